import { mkdtemp, mkdir, readFile, rm, writeFile, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@peftjs/runtime';
import { cli, fixture } from './__fixtures__/run';

let work: string;
const savedEnvironment = { ...process.env };
beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  work = await mkdtemp(join(tmpdir(), 'peftjs-cli-errors-'));
});
afterAll(async () => {
  process.env = savedEnvironment;
  await rm(work, { recursive: true, force: true });
});

async function expectOneLine(argv: string[], message: RegExp, environment: Record<string, string> = {}) {
  const before = { ...process.env };
  Object.assign(process.env, environment);
  try {
    const result = await cli(...argv);
    expect(result.stderr).not.toMatch(/internal error/);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
    return result;
  } finally {
    process.env = before;
  }
}

describe('a user mistake reads as one line, exit 2, never "internal error"', () => {
  it('a missing folder that can only be a path', async () => {
    await expectOneLine(['inspect', '/nonexistent/base'], /no such folder: \/nonexistent\/base/);
    await expectOneLine(['generate', '--base', './no/such/base', '--input-ids', '[[1]]'], /no such folder: ".\/no\/such\/base" \(.*no\/such\/base\)/);
  });

  it('a missing name that could be a repo id, with no network', async () => {
    // Port 9 on loopback: nothing listens, the connection is refused at once.
    const environment = { HF_ENDPOINT: 'http://127.0.0.1:9', HF_HUB_CACHE: join(work, 'cache'), HF_HUB_OFFLINE: '0' };
    const result = await expectOneLine(['inspect', 'qa-lora'], /cannot reach the Hub at http:\/\/127\.0\.0\.1:9 to fetch "qa-lora"/, environment);
    expect(result.stderr).toContain(`there is no local folder ${join(process.cwd(), 'qa-lora')}`);
    expect(result.stderr).toContain('HF_HUB_OFFLINE=1');
    await expectOneLine(['eval', '--base', 'some-org/some-model', '--data', fixture('gpt2-lora', 'data.jsonl')], /cannot reach the Hub/, environment);
  });

  it('offline with nothing cached', async () => {
    await expectOneLine(['inspect', 'some-org/some-adapter'], /offline/i, { HF_HUB_OFFLINE: '1', HF_HUB_CACHE: join(work, 'cache') });
  });

  it('a file where a folder is expected', async () => {
    const file = join(work, 'a-file');
    await writeFile(file, 'x');
    await expectOneLine(['generate', '--base', file, '--input-ids', '[[1]]'], /is a file, not a folder/);
  });

  it('train --out that is a file fails before training', async () => {
    const file = join(work, 'out-file');
    await writeFile(file, 'keep me');
    const started = Date.now();
    await expectOneLine(['train', '--base', fixture('gpt2-lora', 'base'), '--data', fixture('gpt2-lora', 'data.jsonl'), '--out', file], /--out .*out-file is a file, not a folder/);
    expect(await readFile(file, 'utf8')).toBe('keep me');
    // Checked before loading anything: no training step ran (a run takes seconds; this is a sanity bound, not a timing test).
    expect(Date.now() - started).toBeLessThan(30_000);
    await expectOneLine(
      ['train', '--base', fixture('gpt2-lora', 'base'), '--data', fixture('gpt2-lora', 'data.jsonl'), '--out', join(file, 'inside')],
      /cannot be made: .*out-file is a file/,
    );
    await expectOneLine(['merge', '--base', fixture('gpt2-lora', 'base'), '--adapter', fixture('gpt2-lora', 'adapter'), '--out', file], /is a file, not a folder/);
  });

  it('--eval-split must be a fraction or a whole count', async () => {
    await expectOneLine(
      ['train', '--base', fixture('gpt2-lora', 'base'), '--data', fixture('gpt2-lora', 'data.jsonl'), '--out', join(work, 'never'), '--eval-split', '2.5'],
      /--eval-split must be a fraction below 1 or a whole number of rows, got "2.5"/,
    );
  });

  it('a row whose values have the wrong types names the value, not missing keys', async () => {
    const cases: Array<[string, RegExp]> = [
      ['{"text": 42}', /row 1: "text" must be a string, got number/],
      ['{"prompt": "q", "completion": ["a"]}', /row 1: "completion" must be a string, got an array/],
      ['{"input_ids": "1 2 3"}', /row 1: "input_ids" must be an array of token ids, got string/],
    ];
    for (const [row, message] of cases) {
      const data = join(work, 'typed.jsonl');
      await writeFile(data, `${row}\n`);
      await expectOneLine(['train', '--base', fixture('gpt2-lora', 'base'), '--data', data, '--out', join(work, 'never')], message);
    }
  });

  it('inspect validates the config', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ peft_type: 'FOOBAR' }, /no tuner is registered for peft_type "FOOBAR"; registered: .*LORA.*--plugin/],
      [{ r: -1 }, /is not a valid LORA config: .*r/],
      [{ r: 'eight' }, /is not a valid LORA config: .*r/],
    ];
    for (const [change, message] of cases) {
      const folder = join(work, `adapter-${Object.values(change).join('')}`);
      await mkdir(folder, { recursive: true });
      await cp(fixture('gpt2-lora', 'adapter'), folder, { recursive: true });
      const config = JSON.parse(await readFile(join(folder, 'adapter_config.json'), 'utf8'));
      await writeFile(join(folder, 'adapter_config.json'), JSON.stringify({ ...config, ...change }));
      await expectOneLine(['inspect', folder], message);
    }
  });

  it('generate with an unknown peft_type names --plugin', async () => {
    const folder = join(work, 'adapter-unknown');
    await cp(fixture('gpt2-lora', 'adapter'), folder, { recursive: true });
    const config = JSON.parse(await readFile(join(folder, 'adapter_config.json'), 'utf8'));
    await writeFile(join(folder, 'adapter_config.json'), JSON.stringify({ ...config, peft_type: 'FOOBAR' }));
    await expectOneLine(['generate', '--base', fixture('gpt2-lora', 'base'), '--adapter', folder, '--input-ids', '[[1, 2]]'], /peft_type "FOOBAR".*--plugin <package\|file>/);
  });

  it('merge names the adapters it merged', async () => {
    const result = await cli('merge', '--base', fixture('gpt2-lora', 'base'), '--adapter', fixture('gpt2-lora', 'adapter'), '--out', join(work, 'merged'));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/merged default into \d+ tensors/);
  });
});
