#!/usr/bin/env node
// CI's release rehearsal: packs every published package with pnpm (workspace: ranges become real
// ones), lints each tarball with publint and are-the-types-wrong, installs the tarballs with npm
// into a scratch project outside the monorepo, and runs what a new user runs there: the README's
// first snippet (core + lora + a backend) and `npx peftjs --help`. Needs built packages.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const TFJS_VERSION = '4.22.0';
const scratch = mkdtempSync(join(tmpdir(), 'peftjs-pack-'));
const tarballs = join(scratch, 'tarballs');
const project = join(scratch, 'project');
let failures = 0;

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options, env: { ...process.env, ...options.env } });
  return { status: result.status ?? 1, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

function check(label, result, expectation = () => true) {
  const ok = result.status === 0 && expectation(result.output);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${label}`);
  if (!ok) {
    failures++;
    console.log(result.output.trim().split('\n').slice(-30).join('\n'));
  }
  return ok;
}

try {
  const packages = readdirSync(join(root, 'packages'))
    .map((name) => join(root, 'packages', name))
    .filter((dir) => existsSync(join(dir, 'package.json')))
    .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
    .filter(({ manifest }) => !manifest.private);

  const packed = [];
  for (const { dir, manifest } of packages) {
    const result = run('pnpm', ['pack', '--pack-destination', tarballs], { cwd: dir });
    if (!check(`pack ${manifest.name}`, result)) continue;
    const file = join(tarballs, `${manifest.name.replace('@', '').replace('/', '-')}-${manifest.version}.tgz`);
    const contents = run('tar', ['xzOf', file, 'package/package.json']);
    check(`${manifest.name}: no workspace: ranges in the packed manifest`, contents, (output) => !output.includes('workspace:'));
    check(`${manifest.name}: LICENSE packed`, run('tar', ['tzf', file]), (output) => output.includes('package/LICENSE'));
    check(`publint ${manifest.name}`, run(join(root, 'node_modules/.bin/publint'), ['run', file, '--strict']));
    check(`are-the-types-wrong ${manifest.name}`, run(join(root, 'node_modules/.bin/attw'), [file, '--profile', 'esm-only', '--format', 'ascii']));
    packed.push(file);
  }

  // A new user's project: npm only, the tarballs in place of the registry's @peftjs packages.
  run('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'peftjs-scratch', private: true, type: 'module' }, null, 2));
  const install = run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      ...packed,
      ...['core', 'layers', 'backend-wasm', 'backend-cpu'].map((name) => `@tensorflow/tfjs-${name}@${TFJS_VERSION}`),
    ],
    { cwd: project },
  );
  if (check('npm install the tarballs into a scratch project', install)) {
    // The README's first snippet, with data to fit on.
    writeFileSync(
      join(project, 'snippet.mjs'),
      `import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { existsSync } from 'node:fs';
import { initBackend } from '@peftjs/runtime';
import { getPeftModel, registerTuner } from '@peftjs/core';
import { createLoraConfig, lora } from '@peftjs/lora';
import { savePretrained } from '@peftjs/hub';

await initBackend();
registerTuner(lora);
const base = tfl.sequential({ layers: [
  tfl.layers.dense({ units: 256, inputShape: [64], name: 'lin0' }),
  tfl.layers.activation({ activation: 'relu', name: 'relu0' }),
  tfl.layers.dense({ units: 10, name: 'lin1' }),
] });
const peftModel = getPeftModel(base, createLoraConfig({ r: 8, loraAlpha: 16, targetModules: ['lin0'] }));
peftModel.printTrainableParameters();
const xs = tf.randomNormal([32, 64]);
const ys = tf.oneHot(tf.randomUniform([32], 0, 10, 'int32'), 10);
peftModel.model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
await peftModel.model.fit(xs, ys, { epochs: 3, verbose: 0 });
await savePretrained(peftModel, 'my-adapter');
if (!existsSync('my-adapter/adapter_model.safetensors')) throw new Error('no adapter saved');
console.log('backend', tf.getBackend(), 'saved my-adapter');
`,
    );
    check(
      'README snippet (core + lora + runtime backend + hub)',
      run(process.execPath, ['snippet.mjs'], { cwd: project }),
      (output) => output.includes('trainable params: 2,560 || all params: 21,770') && output.includes('saved my-adapter'),
    );
    check('npx peftjs --help', run('npx', ['--no-install', 'peftjs', '--help'], { cwd: project }), (output) => output.includes('train'));
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
console.log(failures === 0 ? 'pack check: ok' : `pack check: ${failures} failure(s)`);
process.exit(failures === 0 ? 0 : 1);
