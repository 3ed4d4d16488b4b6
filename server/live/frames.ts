/**
 * One WebSocket frame per broadcast, built once for every recipient.
 *
 * Socket.IO encodes a broadcast's packet once, and for a text packet it also builds the WebSocket
 * frame once (socket.io-adapter's `_encode` sets engine.io's `wsPreEncodedFrame`, which the
 * WebSocket transport writes as it is). MessagePack packets are binary, for which it does not, so
 * every recipient's frame was built again. This builds it once for a binary packet too. Recipients
 * on HTTP long-polling, or with per-message compression, ignore the frame and encode as usual.
 */
import * as ws from 'ws';

interface FrameOptions {
  readOnly: boolean;
  mask: boolean;
  rsv1: boolean;
  opcode: number;
  fin: boolean;
}
/** `ws`'s frame builder (untyped in @types/ws; socket.io-adapter uses it the same way). */
const Sender = (ws as unknown as { Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] } }).Sender;

interface PacketOptions {
  wsPreEncodedFrame?: unknown;
}
interface EncodingAdapter {
  _encode(packet: unknown, options: PacketOptions): unknown[];
}

export function frameBroadcastsOnce(adapter: object): void {
  const a = adapter as EncodingAdapter;
  if (typeof a._encode !== 'function') return;
  const encode = a._encode.bind(a);
  a._encode = (packet, options) => {
    const encoded = encode(packet, options);
    const only = encoded.length === 1 ? encoded[0] : undefined;
    if (options.wsPreEncodedFrame === undefined && Buffer.isBuffer(only)) {
      // A binary engine.io message over WebSocket is the packet's bytes as they are (opcode 2).
      options.wsPreEncodedFrame = Sender.frame(only, {
        readOnly: false,
        mask: false,
        rsv1: false,
        opcode: 2,
        fin: true,
      });
    }
    return encoded;
  };
}
