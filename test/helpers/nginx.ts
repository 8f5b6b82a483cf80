/**
 * A real nginx (Debian's /usr/sbin/nginx) as the shop's reverse proxy, for first-party mode
 * tests. Tests skip with a message when it is not installed (`apt-get install nginx`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from './child-server.js';
import { tempDir, waitFor } from './pixeltrail.js';

export const NGINX_PATH = '/usr/sbin/nginx';
export const HAS_NGINX = existsSync(NGINX_PATH);

if (!HAS_NGINX) {
  console.warn(`first-party nginx tests skipped: ${NGINX_PATH} is missing (apt-get install nginx)`);
}

export interface Nginx {
  port: number;
  origin: string;
  stop(): Promise<void>;
}

/**
 * Starts nginx on a free loopback port with `server` as the body of its one server block
 * (`PORT` in it is replaced by that port). Runs in the foreground, all files in a temp dir.
 */
export async function startNginx(server: (port: number) => string, port?: number): Promise<Nginx> {
  const listen = port ?? (await freePort());
  const dir = tempDir();
  // Workers may run as an unprivileged user when the test runs as root: let them in.
  chmodSync(dir, 0o755);
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    mkdirSync(path.join(dir, sub));
    chmodSync(path.join(dir, sub), 0o777);
  }
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${listen};
${server(listen)}
  }
}
`,
  );
  const child: ChildProcess = spawn(
    NGINX_PATH,
    ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log'), '-g', 'daemon off;'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (c) => (stderr += c));
  const origin = `http://127.0.0.1:${listen}`;
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
      return fetch(`${origin}/`).then(
        () => true,
        () => false,
      );
    });
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    port: listen,
    origin,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
