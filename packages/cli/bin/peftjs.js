#!/usr/bin/env node
// The published entry: the compiled CLI (`pnpm build`). In the repository, `pnpm -s peftjs` runs the sources.
import '../dist/bin.js';
