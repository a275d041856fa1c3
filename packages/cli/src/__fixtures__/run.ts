import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runCli } from '../cli';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process and captures what it prints. */
export async function cli(...argv: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text), isTTY: false });
  return { code, stdout, stderr };
}

/** Runs `peftjs` as a subprocess from the repository root, as `pnpm -s peftjs` does. */
export function cliProcess(argv: string[], env: Record<string, string> = {}): CliRun {
  const result = spawnSync(`${REPO_ROOT}node_modules/.bin/tsx`, ['--tsconfig', `${REPO_ROOT}tsconfig.json`, `${REPO_ROOT}packages/cli/src/bin.ts`, ...argv], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export const fixture = (...segments: string[]) => `${REPO_ROOT}test-fixtures/peft/${segments.join('/')}`;
