import http from 'node:http';

/** One request of a load run and how it ended. */
export interface LoadResult {
  index: number;
  /** HTTP status, or 0 when the connection failed. */
  status: number;
  /** Date.now() when the answer (or the failure) came. */
  at: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

export interface LoadRequest {
  path: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
}

/**
 * Sends `count` requests over `connections` keep-alive sockets (node:http, loopback only),
 * as fast as the server answers. Failed connections are recorded with status 0, never
 * retried. `onAnswer` sees each result as it comes (e.g. to kill the server mid-run);
 * once `until()` turns false no new request starts (those already sent still finish).
 */
export async function runLoad(
  base: string,
  count: number,
  connections: number,
  request: (i: number) => LoadRequest,
  onAnswer?: (r: LoadResult, answered: number) => void,
  until: () => boolean = () => true,
): Promise<LoadResult[]> {
  const url = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const results: LoadResult[] = [];
  let next = 0;
  let answered = 0;
  const one = (i: number) =>
    new Promise<LoadResult>((resolve) => {
      const r = request(i);
      const done = (status: number, body: string, headers: http.IncomingHttpHeaders) =>
        resolve({ index: i, status, at: Date.now(), body, headers });
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: r.path,
          method: r.method ?? 'GET',
          headers: r.headers,
          agent,
        },
        (res) => {
          let body = '';
          res.setEncoding('latin1');
          res.on('data', (c) => (body += c));
          res.on('end', () => done(res.statusCode ?? 0, body, res.headers));
          res.on('error', () => done(0, '', {}));
        },
      );
      req.on('error', () => done(0, '', {}));
      req.end(r.body);
    });
  const lane = async () => {
    while (next < count && until()) {
      const result = await one(next++);
      results.push(result);
      answered++;
      onAnswer?.(result, answered);
    }
  };
  await Promise.all(Array.from({ length: connections }, lane));
  agent.destroy();
  return results.sort((a, b) => a.index - b.index);
}
