import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const coreIndex = fileURLToPath(new URL('../index.ts', import.meta.url));

describe('a missing backend', () => {
  it('names the packages to install instead of "No backend found in registry"', () => {
    // A fresh process with tfjs-core and peftjs core only: no backend is registered.
    const script = `
      import * as tf from '@tensorflow/tfjs-core';
      await import(${JSON.stringify(coreIndex)});
      try { tf.zeros([2]); console.log('no error'); } catch (error) { console.log('threw: ' + error.message); }
    `;
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    const output = `${result.stdout}\n${result.stderr}`;
    expect(output).toContain('no TensorFlow.js backend is installed');
    expect(output).toContain('@peftjs/runtime');
    expect(output).toContain('@tensorflow/tfjs-backend-wasm');
    expect(output).toContain('threw: Could not initialize any backends');
    expect(output).not.toContain('No backend found in registry');
  });

  it('stays out of the way when a real backend is registered', async () => {
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-cpu');
    await import('../index');
    expect(tf.getBackend()).not.toBe('peftjs-missing-backend');
  });
});
