#!/usr/bin/env node
// Dry-runs a release in a scratch copy of the workspace's manifests: with one changeset that takes
// @peftjs/core to its next minor, `changeset version` must leave every plugin on its version
// (their peer range on core covers every 0.x), not force them to 1.0.0.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'peftjs-release-'));
try {
  for (const file of ['package.json', 'pnpm-workspace.yaml']) cpSync(join(root, file), join(scratch, file));
  mkdirSync(join(scratch, '.changeset'));
  cpSync(join(root, '.changeset/config.json'), join(scratch, '.changeset/config.json'));
  const versions = {};
  for (const group of ['packages', 'examples']) {
    for (const name of readdirSync(join(root, group))) {
      const manifest = join(root, group, name, 'package.json');
      if (!existsSync(manifest)) continue;
      mkdirSync(join(scratch, group, name), { recursive: true });
      cpSync(manifest, join(scratch, group, name, 'package.json'));
      const parsed = JSON.parse(readFileSync(manifest, 'utf8'));
      if (!parsed.private) versions[parsed.name] = parsed.version;
    }
  }
  writeFileSync(join(scratch, '.changeset/core-minor.md'), '---\n"@peftjs/core": minor\n---\n\nA minor core release.\n');
  const bin = join(root, 'node_modules/@changesets/cli/bin.js');
  const result = spawnSync(process.execPath, [bin, 'version'], { cwd: scratch, encoding: 'utf8' });
  if (result.status !== 0) {
    console.error(result.stdout, result.stderr);
    throw new Error('changeset version failed in the scratch workspace');
  }
  const problems = [];
  for (const [name, before] of Object.entries(versions)) {
    const dir = name.replace('@peftjs/', 'packages/');
    const after = JSON.parse(readFileSync(join(scratch, dir, 'package.json'), 'utf8')).version;
    if (name === '@peftjs/core') {
      if (after === before) problems.push(`${name} stayed at ${before}; the changeset should bump it`);
    } else if (after.split('.')[0] !== before.split('.')[0]) {
      problems.push(`${name} went from ${before} to ${after} on a core minor release`);
    }
  }
  if (problems.length) {
    for (const problem of problems) console.error(problem);
    process.exit(1);
  }
  console.log(`release dry run: a core minor release leaves ${Object.keys(versions).length - 1} other packages on their major`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
