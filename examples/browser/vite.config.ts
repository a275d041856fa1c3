import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, defineConfig, type Plugin } from 'vite';
import { findDemoBase } from './demo-base';

const root = fileURLToPath(new URL('../../', import.meta.url));
const wasmDir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')) + '/dist';
const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];

/** The files served beside the page: the demo base model (/demo-base/) and tfjs' wasm binaries (/tfjs-wasm/). */
function staticFiles(): Map<string, () => Buffer | string> {
  const demo = findDemoBase();
  const files = new Map<string, () => Buffer | string>();
  files.set('demo-base/manifest.json', () => JSON.stringify({ name: demo.name, files: demo.files }));
  for (const file of demo.files) files.set(`demo-base/${file}`, () => readFileSync(join(demo.dir, file)));
  for (const file of WASM_FILES) files.set(`tfjs-wasm/${file}`, () => readFileSync(join(wasmDir, file)));
  return files;
}

function serveStaticFiles(): Plugin {
  return {
    name: 'peftjs-browser-static-files',
    configureServer(server) {
      const files = staticFiles();
      server.middlewares.use((request, response, next) => {
        const path = decodeURIComponent((request.url ?? '').split('?')[0]!).replace(/^\//, '');
        const content = files.get(path);
        if (!content) return next();
        response.setHeader('Content-Type', path.endsWith('.wasm') ? 'application/wasm' : path.endsWith('.json') ? 'application/json' : 'application/octet-stream');
        response.end(content());
      });
    },
    generateBundle() {
      for (const [fileName, content] of staticFiles()) this.emitFile({ type: 'asset', fileName, source: content() });
    },
  };
}

// @peftjs/hub and @peftjs/models import Node's modules lazily, on paths the page never takes
// (files on disk, the Hub cache); Vite stubs them for the browser. Say so once, not per import.
const logger = createLogger();
let told = false;
for (const level of ['warn', 'warnOnce'] as const) {
  const original = logger[level].bind(logger);
  logger[level] = (message, options) => {
    if (!message.includes('externalized for browser compatibility')) return original(message, options);
    if (!told)
      original('Node modules imported lazily by @peftjs/hub and @peftjs/models are stubbed in the browser build (their file-system paths are not used by the page).', options);
    told = true;
  };
}

export default defineConfig({
  customLogger: logger,
  // Relative asset URLs: the built page works from any folder or sub-path.
  base: './',
  plugins: [serveStaticFiles()],
  resolve: {
    // The workspace packages from source, as the tests read them: no `pnpm build` needed.
    alias: [{ find: /^@peftjs\/([a-z0-9-]+)$/, replacement: `${root}packages/$1/src/index.ts` }],
  },
  worker: { format: 'es' },
  // Crawl the worker too, so the dev server pre-bundles its dependencies at start (not mid-session, with a reload).
  optimizeDeps: { entries: ['index.html', 'src/worker.ts'] },
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    reportCompressedSize: false,
  },
  server: { host: '127.0.0.1' },
});
