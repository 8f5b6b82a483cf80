// Builds the dashboard (src/ui) with Vite into dist/ui, served by the server at /ui/.
// Vite runs only here: the server serves the static files and needs no dev server.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

await build({
  root: join(root, 'src/ui'),
  base: '/ui/',
  configFile: false,
  logLevel: 'warn',
  build: {
    outDir: join(root, 'dist/ui'),
    emptyOutDir: true,
    target: 'es2022',
    reportCompressedSize: false,
  },
});
console.log('dist/ui: dashboard built');
