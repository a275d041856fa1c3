import { beforeAll, expect, it } from 'vitest';
import { initBackend } from '@peftjs/runtime';
import { runPythonAdapter } from './python-adapter';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

it('a Python PEFT adapter folder loads and generates the ids Python generated', async () => {
  const lines: string[] = [];
  const report = await runPythonAdapter((line) => lines.push(line));
  expect(report.generated).toEqual(report.pythonGenerated);
  expect(report.equal).toBe(true);
  expect(lines[0]).toMatch(/trainable params: 0 \|\|/);
});
