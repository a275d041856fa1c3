#!/usr/bin/env node
// Runs the benchmarks: `pnpm bench` runs every bench/*.bench.ts, `pnpm bench <name> [<name>…]`
// runs the named ones (`pnpm bench wasm-fixes`), `pnpm bench --list` lists them.
// Each file runs in its own Node process through tsx, with the root tsconfig (so `@peftjs/*`
// imports resolve to the packages' source: no build needed).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDirectory = dirname(fileURLToPath(import.meta.url));
const root = join(benchDirectory, '..');
const suffix = '.bench.ts';
const available = readdirSync(benchDirectory)
  .filter((file) => file.endsWith(suffix))
  .map((file) => file.slice(0, -suffix.length))
  .sort();

const args = process.argv.slice(2);
if (args.includes('--list') || args.includes('--help') || args.includes('-h')) {
  console.log(`usage: pnpm bench [name…]\nbenchmarks: ${available.join(', ')}`);
  process.exit(0);
}
const requested = args.length === 0 ? available : args.map((name) => name.replace(/\.bench\.ts$/, ''));
const unknown = requested.filter((name) => !available.includes(name));
if (unknown.length > 0) {
  console.error(`unknown benchmark${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}

const tsx = join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'tsx.cmd' : 'tsx');
if (!existsSync(tsx)) {
  console.error('tsx is not installed: run `pnpm install` at the repository root');
  process.exit(2);
}

const outcomes = [];
for (const name of requested) {
  const started = Date.now();
  const { status, signal } = spawnSync(tsx, ['--tsconfig', join(root, 'tsconfig.json'), join(benchDirectory, `${name}${suffix}`)], {
    cwd: root,
    stdio: 'inherit',
  });
  outcomes.push({ name, ok: status === 0, seconds: (Date.now() - started) / 1000, detail: signal ?? `exit ${status}` });
}

console.log('');
for (const { name, ok, seconds, detail } of outcomes) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name} (${seconds.toFixed(1)} s)${ok ? '' : `: ${detail}`}`);
}
process.exit(outcomes.every(({ ok }) => ok) ? 0 : 1);
