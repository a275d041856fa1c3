/**
 * Runs every ```ts block of the documentation site (docs/guide, docs/methods, docs/index.md):
 * the blocks of a page run in order as one module, against the tiny models in the repository.
 * A block preceded by `<!-- docs-test: skip — reason -->` is not run; the reason is reported.
 * `console.log(x); // expected` lines are checked: what is printed and the comment (up to an
 * ellipsis) must agree, one being a prefix of the other.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@peftjs/runtime';
import { setWarningHandler } from '@peftjs/core';
import { REPO_ROOT } from './__fixtures__/run';

interface Block {
  code: string;
  line: number;
  skip: string | undefined;
}

export function extractBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const fence = /^```(ts|typescript)\b/.exec(lines[index]!);
    if (!fence) continue;
    const marker = /<!--\s*docs-test:\s*skip\s*[—–-]?\s*(.*?)\s*-->/.exec(lines[index - 1] ?? '') ?? /<!--\s*docs-test:\s*skip\s*[—–-]?\s*(.*?)\s*-->/.exec(lines[index - 2] ?? '');
    const start = index + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
    blocks.push({ code: lines.slice(start, end).join('\n'), line: index + 1, skip: marker ? marker[1] || 'marked skip' : undefined });
    index = end;
  }
  return blocks;
}

async function pages(): Promise<string[]> {
  const result: string[] = [join(REPO_ROOT, 'docs', 'index.md')];
  for (const folder of ['guide', 'methods']) {
    for (const name of (await readdir(join(REPO_ROOT, 'docs', folder))).sort()) if (name.endsWith('.md')) result.push(join(REPO_ROOT, 'docs', folder, name));
  }
  return result;
}

const allPages = await pages();
const scratch = join(REPO_ROOT, 'packages', 'cli', '.docs-test');
const originalCwd = process.cwd();

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  setWarningHandler(() => {});
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  // Paths in the docs are relative to the repository root, as when run from a clone.
  process.chdir(REPO_ROOT);
});
afterAll(async () => {
  process.chdir(originalCwd);
  await rm(scratch, { recursive: true, force: true });
});

describe('docs code blocks', () => {
  it('every page with ts blocks has at least one that runs, and every skip has a reason', async () => {
    let runnable = 0;
    for (const page of allPages) {
      const blocks = extractBlocks(await readFile(page, 'utf8'));
      runnable += blocks.filter((block) => !block.skip).length;
      for (const block of blocks) if (block.skip !== undefined) expect(block.skip.length, `${page}:${block.line}`).toBeGreaterThan(5);
    }
    expect(runnable).toBeGreaterThan(10);
  });

  for (const page of allPages) {
    const name = relative(REPO_ROOT, page);
    it(`${name}`, async () => {
      const blocks = extractBlocks(await readFile(page, 'utf8'));
      const run = blocks.filter((block) => !block.skip);
      if (run.length === 0) return;
      // Imports go first; the rest runs in page order inside one async module.
      const imports: string[] = [];
      const body: string[] = [];
      let checks = 0;
      for (const block of run) {
        block.code.split('\n').forEach((line, offset) => {
          if (/^import\s/.test(line)) return imports.push(line);
          const check = /^(\s*)console\.log\((.*)\);\s*\/\/\s*(.+)$/.exec(line);
          if (!check) return body.push(line);
          checks++;
          body.push(`${check[1]}__docsCheck(${check[2]}, ${JSON.stringify(check[3])}, ${JSON.stringify(`${name}:${block.line + 1 + offset}`)});`);
        });
      }
      const prelude = [
        "import { inspect as __inspect } from 'node:util';",
        'function __docsCheck(value: unknown, comment: string, where: string): void {',
        "  const printed = typeof value === 'string' ? value : __inspect(value, { breakLength: Infinity });",
        "  const expected = comment.split('…')[0]!.trim();",
        '  if (!(printed.startsWith(expected) || (printed.length > 0 && expected.startsWith(printed)))) {',
        '    throw new Error(`${where}: printed ${JSON.stringify(printed)}, the docs say ${JSON.stringify(comment)}`);',
        '  }',
        '}',
      ];
      const file = join(scratch, `${name.replace(/[\\/]/g, '_').replace(/\.md$/, '')}.ts`);
      const unique = [...new Set(imports)];
      await writeFile(file, `${unique.join('\n')}\n${prelude.join('\n')}\n${body.join('\n')}\nexport {};\n`);
      expect(checks + run.length).toBeGreaterThan(0);
      await import(/* @vite-ignore */ file);
    }, 180_000);
  }
});
