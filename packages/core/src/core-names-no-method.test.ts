import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Core is the plugin host: every method lives in its own package, so core's library code (types and
// comments included) names none of them. Tests may use fake tuners under any name.
const METHOD_NAMES: readonly RegExp[] = [
  /lora(?!t)/i,
  /\bia3/i,
  /prompt[_ -]?tuning/i,
  /prefix[_ -]?tuning/i,
  /\bp[_ -]tuning/i,
  /prompt[_ -]?encoder/i,
  /\bloha\b/i,
  /\blokr\b/i,
  /\bb?oft\b/i,
  /\bvera\b/i,
  /\bpoly\b/i,
  /adaption[_ -]?prompt/i,
  /multitask[_ -]?prompt/i,
  /\bln[_ -]?tuning/i,
];

const sourceRoot = fileURLToPath(new URL('.', import.meta.url));

function libraryFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return name === '__fixtures__' ? [] : libraryFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('core names no method', () => {
  it('finds no method name in any library source file of core', () => {
    const files = libraryFiles(sourceRoot);
    expect(files.length).toBeGreaterThan(20);
    const hits: string[] = [];
    for (const file of files) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, index) => {
          for (const pattern of METHOD_NAMES) if (pattern.test(line)) hits.push(`${relative(sourceRoot, file)}:${index + 1}: ${line.trim()}`);
        });
    }
    expect(hits).toEqual([]);
  });
});
