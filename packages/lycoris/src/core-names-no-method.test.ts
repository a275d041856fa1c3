import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const coreSource = fileURLToPath(new URL('../../core/src', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

describe('core is method-agnostic', () => {
  it('no core source file names LoHa, LoKr or LyCORIS, or their weights', () => {
    const offenders = files(coreSource)
      .filter((path) => /\.ts$/.test(path) && !/\.test\.ts$/.test(path))
      .filter((path) => /loha|lokr|lycoris|hada_|lokr_/i.test(readFileSync(path, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
