import { describe, expect, it } from 'vitest';
import { findDuplicateKey } from './json-duplicate-keys';

describe('findDuplicateKey', () => {
  it('finds nothing in JSON without duplicates', () => {
    expect(findDuplicateKey('{"a":{"b":1,"c":[{"b":2},{"b":3}]},"b":"a:b"}')).toBeUndefined();
    expect(findDuplicateKey('[{"a":1},{"a":1}]')).toBeUndefined();
  });

  it('finds a duplicate at the top level and inside an entry', () => {
    expect(findDuplicateKey('{"a":1, "b":2, "a" : 3}')).toEqual({ key: 'a', path: [] });
    expect(findDuplicateKey('{"t":{"dtype":"F32","shape":[1],"dtype":"I32"}}')).toEqual({ key: 'dtype', path: ['t'] });
  });

  it('compares keys after unescaping, and is not fooled by quotes inside strings', () => {
    expect(findDuplicateKey('{"a":1,"\\u0061":2}')?.key).toBe('a');
    expect(findDuplicateKey('{"x":"\\"a\\":1","a":1}')).toBeUndefined();
    expect(findDuplicateKey('{"\\\\":1,"\\\\":2}')?.key).toBe('\\');
  });

  it('handles deep nesting without recursion', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    expect(findDuplicateKey(deep)).toBeUndefined();
  });
});
