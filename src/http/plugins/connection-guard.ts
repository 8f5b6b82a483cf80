import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type { Socket } from 'node:net';

/**
 * File descriptors kept free of client connections, at the least: the store's files and pool,
 * delivery requests to destinations, logs and DNS need them too.
 */
const MIN_FD_HEADROOM = 256;
/** And at least this share of the limit. */
const FD_HEADROOM_SHARE = 0.2;
/** Node's fallback when the limit cannot be read (no /proc): the usual soft limit of 1024. */
const UNKNOWN_FD_LIMIT = 1024;
/** How often Node checks the request timeout, at most (its default is every 30 s). */
const MAX_TIMEOUT_CHECK_MS = 1000;

/** The process's limit of open files (Node raises its soft limit to the hard one at start). */
export function openFileLimit(limits = '/proc/self/limits'): number {
  try {
    const line = readFileSync(limits, 'latin1')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.split(/\s+/)[3]);
    return Number.isFinite(soft) && soft > 0 ? soft : UNKNOWN_FD_LIMIT;
  } catch {
    return UNKNOWN_FD_LIMIT;
  }
}

/** `max_connections` when the config leaves it out: the file limit less its headroom. */
export function defaultMaxConnections(fdLimit = openFileLimit()): number {
  const headroom = Math.max(MIN_FD_HEADROOM, Math.ceil(fdLimit * FD_HEADROOM_SHARE));
  return Math.max(1, fdLimit - headroom);
}

/** The limits `guardConnections` enforces. */
export interface ConnectionLimits {
  /** Connections open at once; past it the one stuck longest in its request is closed. */
  maxConnections: number;
  /** The whole request (head and body) must arrive within this, else 408 and close. */
  requestTimeoutMs: number;
}

/** Told of the connections a guard holds (metrics). */
export interface ConnectionObserver {
  /** The number of open connections changed. */
  open(count: number): void;
  /** A connection was closed to make room for a new one. */
  shed(): void;
}

/**
 * Holds a node:http server to its limits against slow clients. A request whose head or body
 * trickles in is cut off once the request timeout passes (node:http's requestTimeout, checked
 * at least every second: its default check, every 30 s, would let a 10 s timeout run to 40).
 * At `maxConnections`, a new connection is taken and the one that has waited longest in its
 * current state (receiving a request, or idle between keep-alive requests) is closed: with a
 * plain cap (`server.maxConnections`), 20,000 slow sockets would keep every new client —
 * the health check, the next pixel — out; this way they are the ones to go.
 */
export function guardConnections(
  server: http.Server,
  limits: ConnectionLimits,
  observer: ConnectionObserver,
): void {
  server.requestTimeout = limits.requestTimeoutMs;
  // node:http refuses a head timeout longer than the request timeout.
  server.headersTimeout = Math.min(server.headersTimeout, limits.requestTimeoutMs);
  // Ordered by the time each connection entered its current state, oldest first.
  const waiting = new Map<Socket, true>();
  let open = 0;
  const touch = (socket: Socket) => {
    waiting.delete(socket);
    if (!socket.destroyed) waiting.set(socket, true);
  };
  server.on('connection', (socket: Socket) => {
    waiting.set(socket, true);
    observer.open(++open);
    socket.once('close', () => {
      waiting.delete(socket);
      observer.open(--open);
    });
    while (waiting.size > limits.maxConnections) {
      const oldest = waiting.keys().next().value as Socket;
      waiting.delete(oldest);
      oldest.destroy();
      observer.shed();
    }
  });
  // One listener for every answer, not a closure and a `once` wrapper per request: this runs
  // on every pixel hit. (`res.socket` is already detached at 'finish'; `req`'s is not.)
  function answered(this: http.ServerResponse): void {
    touch(this.req.socket);
  }
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    touch(req.socket);
    res.on('finish', answered);
  });
}

/** How often node:http should look for requests past their timeout. */
export function timeoutCheckIntervalMs(requestTimeoutMs: number): number {
  return Math.max(10, Math.min(MAX_TIMEOUT_CHECK_MS, Math.floor(requestTimeoutMs / 4)));
}
