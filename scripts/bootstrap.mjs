#!/usr/bin/env node
// The README's two commands end here: `npm start` (set up, then run the main job) and
// `npm test` (set up, then run every test). Only Node >= 20 and npm are assumed; pnpm 9.15.9 is
// fetched through npx when it is not on PATH.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pnpmCommand } from './pnpm-command.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const task = process.argv[2];
const extra = process.argv.slice(3);

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32', ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

const [pnpm, pnpmPrefix] = pnpmCommand();
const pnpmRun = (...args) => run(pnpm, [...pnpmPrefix, ...args]);

function install() {
  const frozen = process.env.CI ? ['--frozen-lockfile'] : [];
  const status = pnpmRun('install', ...frozen);
  if (status !== 0) process.exit(status);
  // `npx peftjs` runs the compiled CLI: build it and the packages it imports.
  const build = pnpmRun('--silent', '--filter', '@peftjs/cli...', 'build');
  if (build !== 0) process.exit(build);
}

function summarize(reportPath, status = 0) {
  if (!existsSync(reportPath)) {
    console.log('0 passed, 1 failed');
    console.error(`no vitest report at ${reportPath}`);
    return 1;
  }
  const report = JSON.parse(readFileSync(reportPath, 'utf8'));
  const passed = report.numPassedTests ?? 0;
  // A test file that fails before running any test (an import error) counts as one failure;
  // vitest's numFailedTestSuites also counts every describe block around a failed test.
  const brokenFiles = (report.testResults ?? []).filter((file) => file.status === 'failed' && !(file.assertionResults ?? []).some((test) => test.status === 'failed')).length;
  let failed = (report.numFailedTests ?? 0) + brokenFiles;
  // A crashed worker (an unhandled error) fails the run without failing a test: count the tests
  // that never reported, and at least one.
  if (status !== 0 && failed === 0) failed = Math.max(1, (report.numTotalTests ?? 0) - passed - (report.numPendingTests ?? 0) - (report.numTodoTests ?? 0));
  const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  return failed > 0 || passed === 0 ? 1 : 0;
}

if (task === 'start') {
  install();
  process.exit(pnpmRun('--silent', 'run', '--filter', '@peftjs/example-tiny-lm', 'start', ...extra));
} else if (task === 'test') {
  install();
  const reportPath = `${root}.vitest-report.json`;
  const status = pnpmRun('exec', 'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${reportPath}`, ...extra);
  const summary = summarize(reportPath, status);
  process.exit(status !== 0 ? status : summary);
} else if (task === 'setup') {
  // Install everything and build the CLI (what npm start and npm test do first).
  install();
} else if (task === 'release') {
  // changeset version, then build and publish. Through pnpm (fetched when missing), so
  // `changeset publish` packs with pnpm and workspace: ranges become real ones.
  let status = pnpmRun('exec', 'changeset', 'version');
  if (status === 0) {
    install();
    status = pnpmRun('-r', '--filter', './packages/*', 'build');
  }
  if (status === 0) {
    status = pnpmRun('exec', 'changeset', 'publish', ...extra);
  }
  process.exit(status);
} else if (task === 'build') {
  // Every package (tsup: ESM + .d.ts).
  process.exit(pnpmRun('-r', '--filter', './packages/*', 'build'));
} else if (task === 'check') {
  // CI's second half: build every package, then type-check the whole workspace.
  const build = pnpmRun('-r', '--filter', './packages/*', 'build');
  if (build !== 0) console.error('build failed');
  const typecheck = run(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.json', '--noEmit']);
  if (typecheck !== 0) console.error('typecheck failed');
  process.exit(build !== 0 || typecheck !== 0 ? 1 : 0);
} else if (task === 'docs-api') {
  process.exit(docsApi());
} else if (task === 'docs' || task === 'docs-dev') {
  // The documentation site: typedoc API pages, then the VitePress build (or its dev server).
  let status = docsApi();
  if (status === 0) status = pnpmRun('--filter', '@peftjs/cli', 'exec', 'vitepress', task === 'docs' ? 'build' : 'dev', '../../docs');
  if (status !== 0) console.error('docs build failed');
  process.exit(status);
} else {
  console.error('usage: node scripts/bootstrap.mjs start|test|setup|build|check|docs|docs-api|docs-dev [args]');
  process.exit(2);
}

function docsApi() {
  return pnpmRun('--filter', '@peftjs/cli', 'exec', 'typedoc', '--options', '../../docs/typedoc.json');
}
