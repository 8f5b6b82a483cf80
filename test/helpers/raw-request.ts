import net from 'node:net';

/**
 * Sends `request` (raw HTTP, possibly several pipelined requests) to 127.0.0.1:`port` in one
 * write; resolves everything the server sent until it closed the connection.
 */
export function rawRequest(port: number, request: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    socket.on('data', (d: Buffer) => got.push(d));
    socket.on('close', () => resolve(Buffer.concat(got)));
    socket.on('error', (err) => (got.length > 0 ? resolve(Buffer.concat(got)) : reject(err)));
    socket.on('connect', () => socket.write(request));
  });
}
