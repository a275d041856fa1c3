#!/usr/bin/env node
// CI's release rehearsal: packs every published package with pnpm (workspace: ranges become real
// ones), lints each tarball with publint and are-the-types-wrong, installs the tarballs with npm
// into a scratch project outside the monorepo, and runs what a new user runs there: the README's
// first snippet (core + lora + a backend) and `npx peftjs --help`; then installs the CLI globally
// (`npm i -g @peftjs/cli` into a scratch prefix, through a local registry that serves the
// tarballs) and runs its bin there. Needs built packages.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLocalRegistry } from './local-registry.mjs';
import { pnpmCommand } from './pnpm-command.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const TFJS_VERSION = '4.22.0';
const scratch = mkdtempSync(join(tmpdir(), 'peftjs-pack-'));
const tarballs = join(scratch, 'tarballs');
const project = join(scratch, 'project');
const globalPrefix = join(scratch, 'global');
let failures = 0;

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options, env: { ...process.env, ...options.env } });
  return { status: result.status ?? 1, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? result.error.message : ''}` };
}

// CI runs this script directly, where pnpm may not be on PATH (npm test fetched it through npx).
const [pnpm, pnpmPrefix] = pnpmCommand();

// The local registry answers from this process, so npm must run without blocking it.
function runAsync(command, args, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { ...options, env: { ...process.env, ...options.env } });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', (error) => resolve({ status: 1, output: `${output}${error.message}` }));
    child.on('close', (status) => resolve({ status: status ?? 1, output }));
  });
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
    const result = run(pnpm, [...pnpmPrefix, 'pack', '--pack-destination', tarballs], { cwd: dir });
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

  // A global install, as the README's `npm i -g @peftjs/cli`: npm nests the CLI's dependencies
  // under it, so this checks that layout (one tfjs-core for all packages) and the bin link.
  const cli = packages.find(({ manifest }) => manifest.name === '@peftjs/cli')?.manifest;
  const registry = await startLocalRegistry(packed, run('npm', ['config', 'get', 'registry']).output.trim());
  const globalInstall = await runAsync(
    'npm',
    ['install', '--global', '--prefix', globalPrefix, '--registry', registry.url, '--no-audit', '--no-fund', '--loglevel=error', `@peftjs/cli@${cli?.version}`],
    { cwd: scratch },
  );
  await registry.close();
  if (check('npm i -g @peftjs/cli into a scratch prefix', globalInstall)) {
    const bin = join(globalPrefix, 'bin', 'peftjs');
    // Best of three, so a cold disk cache does not count.
    const times = [];
    let help = { status: 1, output: '' };
    for (let attempt = 0; attempt < 3; attempt++) {
      const start = performance.now();
      help = run(bin, ['--help'], { cwd: scratch });
      times.push(performance.now() - start);
    }
    const fastest = Math.min(...times);
    check(`global peftjs --help (${fastest.toFixed(0)} ms, under 1000)`, help, (output) => output.includes('train') && fastest < 1000);
    // A real command: the bin loads tfjs and every package from the global folder.
    check(
      'global peftjs inspect <a fixture adapter>',
      run(bin, ['inspect', join(root, 'test-fixtures/peft/gpt2-lora/adapter')], { cwd: scratch }),
      (output) => output.includes('4 tensors, 1,024 parameters') && !output.includes('has already been set'),
    );
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
console.log(failures === 0 ? 'pack check: ok' : `pack check: ${failures} failure(s)`);
process.exit(failures === 0 ? 0 : 1);
