/**
 * Runs every shell line of the README, the package READMEs, the examples' READMEs and the docs
 * site (```sh / ```bash / ```shell blocks), from the repository root, with Node and npm on PATH
 * and no pnpm: what a new user has. A block preceded by `<!-- docs-test: skip — reason -->` is not
 * run (a real Hub push, an install from the registry); the reason is reported. Lines of one file
 * run in order, so a `generate` can use what the `train` above it wrote.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './__fixtures__/run';

interface ShellLine {
  command: string;
  line: number;
  skip: string | undefined;
}

const SKIP = /<!--\s*docs-test:\s*skip\s*[—–-]?\s*(.*?)\s*-->/;

/** The commands of a page's shell blocks: comments dropped, `\` continuations joined. */
export function extractShellLines(markdown: string): ShellLine[] {
  const result: ShellLine[] = [];
  const lines = markdown.split('\n');
  for (let index = 0; index < lines.length; index++) {
    if (!/^```(sh|bash|shell)\s*$/.test(lines[index]!)) continue;
    const marker = SKIP.exec(lines[index - 1] ?? '') ?? SKIP.exec(lines[index - 2] ?? '');
    const skip = marker ? marker[1] || 'marked skip' : undefined;
    let cursor = index + 1;
    while (cursor < lines.length && !/^```\s*$/.test(lines[cursor]!)) {
      const start = cursor;
      let command = lines[cursor]!;
      while (command.endsWith('\\') && cursor + 1 < lines.length) command = `${command.slice(0, -1)} ${lines[++cursor]!.trim()}`;
      cursor++;
      if (command.trim() === '' || command.trim().startsWith('#')) continue;
      result.push({ command: command.trim(), line: start + 1, skip });
    }
    index = cursor;
  }
  return result;
}

function markdownFiles(): string[] {
  const files = [join(REPO_ROOT, 'README.md'), join(REPO_ROOT, 'bench', 'README.md')];
  for (const group of ['packages', 'examples']) {
    for (const name of readdirSync(join(REPO_ROOT, group)).sort()) {
      const readme = join(REPO_ROOT, group, name, 'README.md');
      if (existsSync(readme)) files.push(readme);
    }
  }
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules' || entry.name === 'api') continue;
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.md')) files.push(path);
    }
  };
  walk(join(REPO_ROOT, 'docs'));
  if (existsSync(join(REPO_ROOT, 'examples', 'README.md')) && !files.includes(join(REPO_ROOT, 'examples', 'README.md'))) files.push(join(REPO_ROOT, 'examples', 'README.md'));
  return files.filter((file) => extractShellLines(readFileSync(file, 'utf8')).length > 0);
}

/**
 * A PATH where `pnpm` is not found: a folder with node, npm and npx first, and a `pnpm` there that
 * answers as bash does for a missing command (pnpm may be installed in a system folder).
 */
function pathWithoutPnpm(): { path: string; cleanup: () => void } {
  const bin = mkdtempSync(join(tmpdir(), 'peftjs-no-pnpm-'));
  const nodeBin = dirname(process.execPath);
  for (const tool of ['node', 'npm', 'npx']) if (existsSync(join(nodeBin, tool))) symlinkSync(join(nodeBin, tool), join(bin, tool));
  writeFileSync(join(bin, 'pnpm'), '#!/bin/sh\necho "bash: pnpm: command not found" >&2\nexit 127\n', { mode: 0o755 });
  return { path: [bin, process.env.PATH ?? '/usr/bin:/bin'].join(':'), cleanup: () => rmSync(bin, { recursive: true, force: true }) };
}

const environment = pathWithoutPnpm();
afterAll(() => environment.cleanup());

describe('shell lines in the docs run with Node and npm alone', () => {
  for (const file of markdownFiles()) {
    const name = relative(REPO_ROOT, file);
    it(name, () => {
      const lines = extractShellLines(readFileSync(file, 'utf8'));
      const ran: string[] = [];
      for (const { command, line, skip } of lines) {
        if (skip) {
          console.log(`${name}:${line}: not run (${skip}): ${command}`);
          continue;
        }
        const result = spawnSync('bash', ['-c', command], {
          cwd: REPO_ROOT,
          encoding: 'utf8',
          env: { ...process.env, PATH: environment.path, CI: 'true', npm_config_update_notifier: 'false' },
          timeout: 600_000,
        });
        const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
        expect(result.status, `${name}:${line}: \`${command}\` exited ${result.status}:\n${output.split('\n').slice(-25).join('\n')}`).toBe(0);
        expect(output, `${name}:${line}: \`${command}\` used pnpm`).not.toMatch(/pnpm: command not found/);
        ran.push(command);
      }
      expect(ran.length + lines.filter((line) => line.skip).length).toBe(lines.length);
    }, 1_800_000);
  }
});
