import { once } from 'node:events';

/** Waits for a child process (stdout and stderr piped) to exit: its code and all it printed. */
export async function childOutput(child) {
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  const [code] = await once(child, 'exit');
  return { code, out, err };
}
