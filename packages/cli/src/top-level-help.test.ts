import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildProgram } from './cli';
import { processIo } from './cli-io';
import { cli, REPO_ROOT } from './__fixtures__/run';
import { isTopLevelRequest } from './command-summaries';
import { runTopLevelRequest } from './top-level-help';
import { registerBuiltinTuners } from './util/methods';

function capture(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = runTopLevelRequest(argv, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) });
  return { code, stdout, stderr };
}

describe('the fast top-level help', () => {
  it('prints what the full CLI prints for --help, -h, help, --version and no arguments', async () => {
    registerBuiltinTuners();
    for (const argv of [['--help'], ['-h'], ['help'], ['--version'], ['-V'], []]) {
      expect(isTopLevelRequest(argv)).toBe(true);
      const fast = capture(argv);
      const full = await cli(...argv);
      expect(fast, JSON.stringify(argv)).toEqual(full);
    }
    expect(buildProgram(processIo()).helpInformation()).toContain('inspect [options] <adapter>');
  });

  it('leaves every other command line to the full CLI', () => {
    for (const argv of [
      ['train', '--help'],
      ['--help', 'train'],
      ['inspect', 'x'],
      ['--plugin', 'x', '--help'],
    ])
      expect(isTopLevelRequest(argv)).toBe(false);
  });

  it('does not load TensorFlow.js', () => {
    const script = `
      await import(${JSON.stringify(`${REPO_ROOT}packages/cli/src/top-level-help.ts`)}).then((module) => module.runTopLevelRequest(['--help'], { stdout() {}, stderr() {} }));
      const loaded = Object.keys((await import('node:module')).default._cache ?? {}).filter((path) => path.includes('@tensorflow'));
      console.log(JSON.stringify({ loaded: loaded.length, tfjs: typeof globalThis.tf }));
    `;
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout.trim().split('\n').at(-1)!)).toEqual({ loaded: 0, tfjs: 'undefined' });
  });
});
