import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CORE_SOURCE = fileURLToPath(new URL('../../core/src', import.meta.url));

function sourceFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : [];
  });
}

describe('core knows nothing of AdaLoRA', () => {
  it('no core source file names the method: it plugs in through TunerV1 alone', () => {
    const naming = sourceFiles(CORE_SOURCE).filter((path) => /adalora|ada_lora/i.test(readFileSync(path, 'utf8')));
    expect(naming).toEqual([]);
  });
});
