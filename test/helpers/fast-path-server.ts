import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pixelFastPath } from '../../src/http/collect/fast-path.js';
import type { ClientWindows } from '../../src/http/plugins/client-windows.js';
import { authFailures, clientWindows } from '../../src/http/plugins/rate-limits.js';
import type { Server } from '../../src/server.js';

/**
 * The fast paths of a running pixeltrail in front of `fastify`, a stand-in for Fastify's
 * handler: what reaches the stand-in is what the fast paths handed over. Fresh rate-limit
 * windows (or `windows`) and lockouts; listens on 127.0.0.1.
 */
export async function fastPathServer(
  running: { server: Server },
  fastify: http.RequestListener,
  windows: ClientWindows = clientWindows(),
): Promise<{ base: string; close: () => Promise<void>; server: http.Server }> {
  const { services, app } = running.server;
  const factory = pixelFastPath({
    services,
    windows,
    failures: authFailures(services.config, Date.now),
    log: () => app.log,
    closing: () => false,
  });
  const srv = factory(fastify, {
    keepAliveTimeout: 5000,
    requestTimeout: 0,
    connectionTimeout: 0,
  }) as http.Server;
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    server: srv,
    base: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}
