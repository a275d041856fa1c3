#!/usr/bin/env node
// Builds the @peftjs/native addon from source at install time, with node-gyp and the headers of the
// Node that runs it (found locally: nothing is downloaded). Never fails the install: when there is
// no compiler, no node-gyp or no headers, it says so in one line and the package stays unbuilt
// (@peftjs/runtime then runs without it). `PEFTJS_NATIVE_SKIP_BUILD=1` skips the build.
//
// Order: node-gyp (the one npm or pnpm runs scripts with, else npm's bundled copy) with
// `--nodedir` at the local headers; if node-gyp is missing or fails, one direct `cc` call.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDirectory = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const buildDirectory = join(packageDirectory, 'build');
const output = join(buildDirectory, 'Release', 'peftjs_native.node');
const reportPath = join(buildDirectory, 'build-report.json');
const sources = ['binding.c', 'gemm.c', 'adam.c', 'threads.c', 'store.c', 'fused.c'].map((file) => join(packageDirectory, 'csrc', file));
const timeout = 10 * 60 * 1000;

function log(message) {
  console.log(`@peftjs/native: ${message}`);
}

/** What the addon is built from: the C sources, binding.gyp and the Node ABI. An unchanged build is kept. */
function sourceHash() {
  const hash = createHash('sha256');
  for (const file of [
    ...sources,
    join(packageDirectory, 'csrc', 'gemm.h'),
    join(packageDirectory, 'csrc', 'store.h'),
    join(packageDirectory, 'csrc', 'fused.h'),
    join(packageDirectory, 'csrc', 'gemm_kernel.inc'),
    join(packageDirectory, 'binding.gyp'),
  ]) {
    hash.update(readFileSync(file));
  }
  hash.update(`${process.versions.modules} ${process.platform} ${process.arch}`);
  return hash.digest('hex').slice(0, 16);
}

function upToDate(hash) {
  try {
    const previous = JSON.parse(readFileSync(reportPath, 'utf8'));
    return previous.built === true && previous.sourceHash === hash && existsSync(output);
  } catch {
    return false;
  }
}

function report(outcome) {
  try {
    mkdirSync(buildDirectory, { recursive: true });
    writeFileSync(reportPath, `${JSON.stringify({ ...outcome, node: process.version, date: new Date().toISOString() }, null, 2)}\n`);
  } catch {
    // the report is informational
  }
}

/** The prefix whose include/node holds this Node's headers (node-gyp's --nodedir), or undefined. */
export function findNodeDirectory() {
  const candidates = [process.env.PEFTJS_NODEDIR, process.env.npm_config_nodedir, resolve(dirname(process.execPath), '..'), '/usr', '/usr/local'].filter(Boolean);
  for (const candidate of candidates) {
    const include = join(candidate, 'include', 'node');
    if (existsSync(join(include, 'node_api.h')) && existsSync(join(include, 'common.gypi')) && headersMatch(include)) {
      return candidate;
    }
  }
  return undefined;
}

/** The headers are for this Node's major version (node_version.h), so the addon's ABI matches. */
function headersMatch(include) {
  try {
    const text = spawnSync('grep', ['-m1', '#define NODE_MAJOR_VERSION', join(include, 'node_version.h')], { encoding: 'utf8' }).stdout ?? '';
    const major = /NODE_MAJOR_VERSION\s+(\d+)/.exec(text)?.[1];
    return major === undefined || major === process.versions.node.split('.')[0];
  } catch {
    return true;
  }
}

function findNodeGyp() {
  const candidates = [];
  const fromEnv = process.env.npm_config_node_gyp;
  if (fromEnv) {
    candidates.push(fromEnv);
  }
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not a dependency
  }
  const prefix = resolve(dirname(process.execPath), '..');
  candidates.push(
    join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(prefix, 'lib', 'node_modules', 'pnpm', 'dist', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  );
  return candidates.find((candidate) => candidate.endsWith('.js') && existsSync(candidate));
}

function run(command, args) {
  const result = spawnSync(command, args, { cwd: packageDirectory, encoding: 'utf8', timeout, env: { ...process.env } });
  const text = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  return { ok: result.status === 0 && existsSync(output), text, error: result.error?.message };
}

/** The lines that say what went wrong (compiler errors first), else the last few. */
function lastLines(text, count = 6) {
  const lines = text.trim().split('\n');
  const errors = lines.filter((line) => /error|not found|No such file|cannot|failed/i.test(line) && !/^gyp ERR! (System|command|cwd|node -v|node-gyp -v|not ok)/.test(line));
  return (errors.length > 0 ? errors.slice(0, count) : lines.slice(-count)).join('\n');
}

function main() {
  if (process.env.PEFTJS_NATIVE_SKIP_BUILD === '1') {
    log('build skipped (PEFTJS_NATIVE_SKIP_BUILD=1)');
    report({ built: false, reason: 'skipped by PEFTJS_NATIVE_SKIP_BUILD' });
    return;
  }
  const hash = sourceHash();
  if (upToDate(hash) && process.env.PEFTJS_NATIVE_FORCE_BUILD !== '1') {
    log('already built from these sources (PEFTJS_NATIVE_FORCE_BUILD=1 rebuilds)');
    return;
  }
  const nodeDirectory = findNodeDirectory();
  if (nodeDirectory === undefined) {
    const reason = `no Node ${process.versions.node.split('.')[0]} headers found locally (include/node/node_api.h beside ${process.execPath}, /usr or /usr/local); set PEFTJS_NODEDIR to their prefix`;
    log(`not built: ${reason}. peftjs runs without it.`);
    report({ built: false, reason });
    return;
  }
  const attempts = [];
  const nodeGyp = findNodeGyp();
  if (nodeGyp !== undefined) {
    const result = run(process.execPath, [nodeGyp, 'rebuild', '--release', `--nodedir=${nodeDirectory}`]);
    if (result.ok) {
      log(`built with node-gyp (headers from ${nodeDirectory})`);
      report({ built: true, with: 'node-gyp', nodeDirectory, sourceHash: hash });
      return;
    }
    attempts.push(`node-gyp: ${result.error ?? lastLines(result.text)}`);
  } else {
    attempts.push('node-gyp: not found');
  }
  // Fallback: one compiler call (what binding.gyp asks for).
  const compiler = process.env.CC || 'cc';
  mkdirSync(dirname(output), { recursive: true });
  const result = run(compiler, [
    '-shared',
    '-fPIC',
    '-std=gnu11',
    '-O3',
    '-ffp-contract=off',
    '-fno-math-errno',
    '-fvisibility=hidden',
    '-DNODE_GYP_MODULE_NAME=peftjs_native',
    `-I${join(nodeDirectory, 'include', 'node')}`,
    ...sources,
    '-o',
    output,
    '-lpthread',
    '-lm',
  ]);
  if (result.ok) {
    log(`built with ${compiler} (headers from ${nodeDirectory})`);
    report({ built: true, with: compiler, nodeDirectory, attempts, sourceHash: hash });
    return;
  }
  attempts.push(`${compiler}: ${result.error ?? lastLines(result.text)}`);
  log(`not built (peftjs runs without it):\n  ${attempts.join('\n  ')}`);
  report({ built: false, reason: 'the build failed', attempts });
}

try {
  main();
} catch (error) {
  log(`not built: ${error instanceof Error ? error.message : String(error)}`);
  report({ built: false, reason: String(error) });
}
process.exit(0);
