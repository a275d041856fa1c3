#!/usr/bin/env node
// The published entry: the compiled CLI. In the repository, `npm start` / `npm test` (or
// `npm run build`) build it; until then say so instead of a module-not-found stack.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(compiled)) {
  console.error('peftjs: the CLI is not built yet; in the repository run `npm run build` (npm start and npm test build it too)');
  process.exit(2);
}
await import(compiled.href);
