import { beforeAll, expect, it } from 'vitest';
import { initBackend } from '@peftjs/runtime';
import { setWarningHandler } from '@peftjs/core';
import { runMultiAdapter } from './multi-adapter';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  setWarningHandler(() => {});
});

it('hot-swaps adapters, disables them, and runs a mixed-adapter batch', async () => {
  const report = await runMultiAdapter();
  expect(report.adapters).toEqual(['python', 'other']);
  expect(report.pythonDifference).toBeLessThan(1e-4);
  expect(report.disabledDifference).toBeLessThan(1e-4);
  expect(report.swapDifference).toBeGreaterThan(1e-3);
  expect(report.mixedDifference).toBeLessThan(1e-4);
  expect(report.mixedGeneration).toEqual(report.separateGeneration);
});
