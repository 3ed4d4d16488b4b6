/** A QR code as one SVG path (no canvas, no data: URL: safe under a strict CSP). */
import { encode } from 'uqr';

export interface QrShape {
  size: number;
  path: string;
}

export function qrShape(text: string): QrShape {
  const qr = encode(text, { ecc: 'M', border: 2 });
  let path = '';
  qr.data.forEach((row, y) => {
    let x = 0;
    while (x < row.length) {
      if (!row[x]) {
        x++;
        continue;
      }
      const start = x;
      while (x < row.length && row[x]) x++;
      path += `M${start} ${y}h${x - start}v1h${start - x}z`;
    }
  });
  return { size: qr.size, path };
}
