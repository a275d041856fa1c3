import { describe, expect, it } from 'vitest';

import { importOptional, isModuleNotFound, moduleExport } from './import-optional';

describe('importOptional', () => {
  it('imports an installed package', async () => {
    const module = await importOptional('@tensorflow/tfjs-core');
    expect(moduleExport(module, 'version_core')).toBe('4.22.0');
  });

  it('fails for a missing package with an error isModuleNotFound recognises', async () => {
    const error = await importOptional('@tensorflow/tfjs-node').catch((caught: unknown) => caught);
    expect(isModuleNotFound(error, '@tensorflow/tfjs-node')).toBe(true);
  });
});

describe('isModuleNotFound', () => {
  it("recognises Node's errors for the package itself", () => {
    const error = Object.assign(new Error("Cannot find package '@tensorflow/tfjs-node' imported from /app/x.js"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    expect(isModuleNotFound(error, '@tensorflow/tfjs-node')).toBe(true);
  });

  it('does not mistake a package whose own dependency is missing, or a native load failure', () => {
    const dependency = Object.assign(new Error("Cannot find module 'node-pre-gyp'\nRequire stack:\n- /app/node_modules/@tensorflow/tfjs-node/dist/index.js"), {
      code: 'MODULE_NOT_FOUND',
    });
    expect(isModuleNotFound(dependency, '@tensorflow/tfjs-node')).toBe(false);
    const native = new Error('libcudart.so.11.0: cannot open shared object file: No such file or directory');
    expect(isModuleNotFound(native, '@tensorflow/tfjs-node-gpu')).toBe(false);
    expect(isModuleNotFound('not an error', '@tensorflow/tfjs-node')).toBe(false);
  });
});

describe('moduleExport', () => {
  it('reads named exports of ESM and CommonJS modules', () => {
    expect(moduleExport({ version: '1' }, 'version')).toBe('1');
    expect(moduleExport({ default: { version: '2' } }, 'version')).toBe('2');
    expect(moduleExport({ default: null }, 'version')).toBeUndefined();
  });
});
