import { describe, expect, it } from 'vitest';
import { createPathFilter, fnmatchToRegExp } from './file-patterns';

describe('file patterns (Python fnmatch semantics)', () => {
  it('matches *, ?, classes and negated classes; * crosses folders', () => {
    expect(fnmatchToRegExp('*.json').test('a/b/config.json')).toBe(true);
    expect(fnmatchToRegExp('model-?.bin').test('model-1.bin')).toBe(true);
    expect(fnmatchToRegExp('model-?.bin').test('model-10.bin')).toBe(false);
    expect(fnmatchToRegExp('[ab].txt').test('b.txt')).toBe(true);
    expect(fnmatchToRegExp('[!ab].txt').test('b.txt')).toBe(false);
    expect(fnmatchToRegExp('[!ab].txt').test('c.txt')).toBe(true);
    expect(fnmatchToRegExp('a.b').test('axb')).toBe(false);
    expect(fnmatchToRegExp('[unclosed').test('[unclosed')).toBe(true);
    expect(fnmatchToRegExp('(x)+').test('(x)+')).toBe(true);
  });

  it('combines allow and ignore lists; a trailing slash means a folder', () => {
    const filter = createPathFilter(['*.safetensors', 'adapter/'], ['*/skip*']);
    expect(['a.safetensors', 'adapter/x.json', 'adapter/skip.json', 'b.json'].filter(filter)).toEqual(['a.safetensors', 'adapter/x.json']);
    expect(['x', 'y/z'].filter(createPathFilter())).toEqual(['x', 'y/z']);
  });
});
