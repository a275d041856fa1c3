import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

it('npm reads the repository without a config warning (pnpm settings live in .pnpmfile.cjs, not .npmrc)', () => {
  const result = spawnSync('npm', ['pkg', 'get', 'name'], { cwd: root, encoding: 'utf8' });
  expect(result.status).toBe(0);
  expect(result.stdout.trim()).toBe('"peftjs-monorepo"');
  // Warnings about a user's own ~/.npmrc are not the repository's.
  expect(result.stderr).not.toMatch(/npm warn.*project config/i);
});

it('the lockfile installs no optional backend that needs a download, nor a third-party peer nothing uses', () => {
  const lockfile = readFileSync(`${root}pnpm-lock.yaml`, 'utf8');
  expect(lockfile).toMatch(/^pnpmfileChecksum: /m);
  for (const name of ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs', 'search-insights']) {
    expect(lockfile, name).not.toContain(`\n  '${name}@`);
    expect(lockfile, name).not.toContain(`\n  ${name}@`);
  }
});
