/**
 * Small node:http servers on 127.0.0.1 for the e2e tests — static pages, a fake collector, a
 * webhook receiver — each recording the requests it receives.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the server received it; `body` is the raw text. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What to answer; the default is an empty 404. */
export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface LocalServer {
  port: number;
  /** Every request received, oldest first. */
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/**
 * Starts a server on `host` (127.0.0.1; another loopback address such as 127.0.0.2 is another
 * site to the browser) at a free port, answering each request with `reply`.
 */
export async function startLocalServer(
  reply: (request: RecordedRequest) => Reply | undefined,
  host = '127.0.0.1',
): Promise<LocalServer> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(request);
      const { status = 404, headers = {}, body = '' } = reply(request) ?? {};
      res.writeHead(status, headers).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A server answering `GET <path>` with the HTML registered in `pages` at request time. */
export async function startPageServer(
  pages: Map<string, string>,
  host = '127.0.0.1',
): Promise<LocalServer> {
  return startLocalServer((request) => {
    const html = pages.get(new URL(request.path, 'http://x').pathname);
    if (request.method !== 'GET' || html === undefined) return undefined;
    return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: html };
  }, host);
}

/** The loader stub a page pastes before the tag (DESIGN.md §5). */
const LOADER_STUB =
  'window.pixeltrail=window.pixeltrail||' +
  'function(){(pixeltrail.q=pixeltrail.q||[]).push(arguments)};';

/** A shop page: the loader stub, the async tag from `tagSrc`, then `calls` inline. */
export function shopPage(tagSrc: string, calls: string, head = ''): string {
  return `<!doctype html><html><head><title>E2E shop</title>${head}
<script>${LOADER_STUB}</script>
<script async src="${tagSrc}"></script>
<script>${calls}</script>
</head><body>shop</body></html>`;
}

/** Polls `probe` every 50 ms until it gives a truthy value, failing after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
