import msgpack from 'notepack.io';
const b = msgpack.encode({ type: 2, data: ['y', 1, Buffer.alloc(3), 0, Buffer.alloc(2)], nsp: '/' });
console.log(b.length, Buffer.from(b).toString('hex'));
