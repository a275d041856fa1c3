// pnpm for the repository's scripts: the one on PATH when it is the pinned version, else fetched
// through npx (only Node and npm are assumed on a fresh machine).
import { spawnSync } from 'node:child_process';

export const PNPM_VERSION = '9.15.9';

/** `[command, leading arguments]` that run pnpm 9.15.9. */
export function pnpmCommand() {
  const probe = spawnSync('pnpm', ['--version'], { encoding: 'utf8', shell: process.platform === 'win32' });
  if (probe.status === 0 && probe.stdout.trim() === PNPM_VERSION) return ['pnpm', []];
  return ['npx', ['-y', `pnpm@${PNPM_VERSION}`]];
}
