import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { loadSafetensors } from '@peftjs/hub';
import { startFakeHub } from '@peftjs/hub/testing';
import { buildProgram } from './cli';
import { processIo } from './cli-io';
import { cliWorkFolder, maxDifference } from './__fixtures__/python-adapter-case';
import { cli, cliProcess, fixture, REPO_ROOT } from './__fixtures__/run';

import { registerBuiltinTuners } from './util/methods';

const work = cliWorkFolder('cli');

describe('help', () => {
  it('lists every flag of every command with its default (or that it is required)', () => {
    registerBuiltinTuners();
    const program = buildProgram(processIo());
    for (const command of program.commands) {
      const help = command.helpInformation().replace(/\n\s+/g, ' ');
      for (const option of command.options) {
        if (option.long === '--help') continue;
        expect(help, `${command.name()} ${option.long}`).toContain(option.flags);
        const entry = help.slice(help.indexOf(option.flags));
        expect(entry.slice(0, 400), `${command.name()} ${option.long}`).toMatch(/\((default: [^)]+|required)\)/);
      }
    }
    const train = program.commands.find((command) => command.name() === 'train')!.helpInformation();
    for (const flag of [
      '--r ',
      '--lora-alpha',
      '--lora-dropout',
      '--target-modules',
      '--use-dora',
      '--use-rslora',
      '--epochs',
      '--batch-size',
      '--lr',
      '--max-length',
      '--seed',
      '--eval-split',
      '--out',
      '--backend',
    ]) {
      expect(train).toContain(flag);
    }
    // The flag's help is the config schema's description of the field.
    expect(train).toMatch(/--lora-alpha <value>\s+lora_alpha: scaling = α\/r \(default:\s+lora: 8[;)]/);
  });

  it('--help exits 0', async () => {
    const result = await cli('train', '--help');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('--data <file>');
  });
});

describe('user errors exit 2 with one line', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['no command', [], /Usage: peftjs/],
    ['unknown command', ['trian'], /unknown command 'trian'.*train/s],
    ['unknown flag', ['inspect', fixture('gpt2-lora', 'adapter'), '--colour'], /unknown option '--colour'/],
    ['missing required flag', ['train', '--data', 'x.jsonl', '--out', 'o'], /required option '--base <dir\|repo>' not specified/],
    ['unknown backend', ['eval', '--base', fixture('gpt2-lora', 'base'), '--data', fixture('gpt2-lora', 'data.jsonl'), '--backend', 'tpu'], /backend.*"tpu".*wasm/i],
    [
      'missing data file',
      ['train', '--base', fixture('gpt2-lora', 'base'), '--data', '/nonexistent/data.jsonl', '--out', join(tmpdir(), 'peftjs-never')],
      /data file \/nonexistent\/data.jsonl does not exist/,
    ],
    [
      'unknown method',
      ['train', '--base', fixture('gpt2-lora', 'base'), '--data', fixture('gpt2-lora', 'data.jsonl'), '--out', join(tmpdir(), 'peftjs-never'), '--method', 'loar'],
      /unknown method "loar"; registered methods: .*lora/,
    ],
    ['bad number', ['train', '--base', 'b', '--data', 'd.jsonl', '--out', 'o', '--lr', 'fast'], /--lr must be a positive number, got "fast"/],
    [
      'flag of another method',
      ['train', '--base', fixture('gpt2-lora', 'base'), '--data', fixture('gpt2-lora', 'data.jsonl'), '--out', join(tmpdir(), 'peftjs-never'), '--method', 'ia3', '--use-dora'],
      /--use-dora is not a ia3 option \(it belongs to lora[,)]/,
    ],
    [
      'target that matches nothing',
      ['train', '--base', fixture('gpt2-lora', 'base'), '--data', fixture('gpt2-lora', 'data.jsonl'), '--out', join(tmpdir(), 'peftjs-never'), '--target-modules', 'q_prj'],
      /matched no layer/,
    ],
    ['not an adapter folder', ['inspect', fixture('gpt2-lora', 'base')], /no adapter_config.json/],
    ['bad input ids', ['generate', '--base', fixture('gpt2-lora', 'base'), '--input-ids', '[[1,2],[3]]'], /--input-ids: every row must have the same length/],
    [
      'token outside the vocabulary',
      ['generate', '--base', fixture('gpt2-lora', 'base'), '--input-ids', '[[1,2,500]]'],
      /token id 500 is outside the model's vocabulary \(vocab_size 100\)/,
    ],
    ['text without a tokenizer', ['generate', '--base', fixture('gpt2-lora', 'base'), '--prompt', 'hello'], /has no tokenizer.json; use --input-ids/],
  ];
  it.each(cases)('%s', async (_, argv, message) => {
    const result = await cli(...argv);
    expect(result.code).toBe(2);
    expect(result.stderr + result.stdout).toMatch(message);
    if (argv.length > 0) {
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('bad data rows name the row and the accepted shapes', async () => {
    const data = join(work(), 'bad.jsonl');
    await writeFile(data, '{"input_ids": [1, 2, 3]}\n{"question": "x"}\n');
    const result = await cli('train', '--base', fixture('gpt2-lora', 'base'), '--data', data, '--out', join(work(), 'never'));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/bad.jsonl row 2: a row needs "text", "prompt" \+ "completion", or "input_ids"; it has "question"/);
  });

  it('--verbose adds the stack trace', async () => {
    const result = await cli('inspect', fixture('gpt2-lora', 'base'), '--verbose');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/\n\s+at /);
  });
});

describe('train', () => {
  it('trains a LoRA adapter: PEFT files, training log, loss curve; same seed → same adapter', async () => {
    const args = [
      '--base',
      fixture('gpt2-lora', 'base'),
      '--data',
      fixture('gpt2-lora', 'data.jsonl'),
      '--epochs',
      '3',
      '--batch-size',
      '3',
      '--lr',
      '0.01',
      '--eval-split',
      '2',
      '--r',
      '4',
      '--lora-alpha',
      '8',
      '--lora-dropout',
      '0.1',
      '--seed',
      '7',
    ];
    const first = await cli('train', ...args, '--out', join(work(), 'a'), '--json');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/trainable params: 1,024 \|\| all params: 30,720 \|\| trainable%: 3\.3333/);
    expect(first.stderr).toMatch(/step 6\/6 \| epoch 3 \| loss \d+\.\d+ \| \d+ tok\/s \| ETA 0s/);
    const summary = JSON.parse(first.stdout);
    expect(summary.steps).toBe(6);
    const log = JSON.parse(await readFile(join(work(), 'a', 'training_log.json'), 'utf8'));
    expect(log.steps).toHaveLength(6);
    expect(log.evals.map((entry: { epoch: number }) => entry.epoch)).toEqual([0, 1, 2, 3]);
    expect(log.eval_rows).toBe(2);
    expect(log.evals.at(-1).loss).toBeLessThan(log.evals[0].loss);
    const config = JSON.parse(await readFile(join(work(), 'a', 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, lora_dropout: 0.1, task_type: 'CAUSAL_LM', target_modules: ['c_attn'], fan_in_fan_out: true });
    const png = PNG.sync.read(await readFile(join(work(), 'a', 'loss_curve.png')));
    expect([png.width, png.height]).toEqual([640, 360]);

    const second = await cli('train', ...args, '--out', join(work(), 'b'));
    expect(second.code, second.stderr).toBe(0);
    const bytesA = await readFile(join(work(), 'a', 'adapter_model.safetensors'));
    const bytesB = await readFile(join(work(), 'b', 'adapter_model.safetensors'));
    expect(Buffer.compare(bytesA, bytesB)).toBe(0);
    const third = await cli('train', ...args.slice(0, -1), '8', '--out', join(work(), 'c'), '--no-progress');
    expect(third.code).toBe(0);
    expect(Buffer.compare(bytesA, await readFile(join(work(), 'c', 'adapter_model.safetensors')))).not.toBe(0);
  });

  it('trains IA3 from a --config file, with csv data', async () => {
    const data = join(work(), 'rows.csv');
    await writeFile(data, 'input_ids\n"[1, 2, 3, 4, 5]"\n"[6, 7, 8, 9]"\n"[10, 11, 12, 13, 14, 15]"\n');
    const configFile = join(work(), 'ia3.json');
    await writeFile(configFile, JSON.stringify({ peft_type: 'IA3', target_modules: ['c_attn', 'mlp.c_proj'], feedforward_modules: ['mlp.c_proj'] }));
    const result = await cli(
      'train',
      '--base',
      fixture('gpt2-lora', 'base'),
      '--data',
      data,
      '--config',
      configFile,
      '--out',
      join(work(), 'ia3'),
      '--epochs',
      '1',
      '--eval-split',
      '0',
    );
    expect(result.code, result.stderr).toBe(0);
    const inspected = await cli('inspect', join(work(), 'ia3'), '--json');
    const info = JSON.parse(inspected.stdout);
    expect(info.method).toBe('ia3');
    expect(info.tensors.map((tensor: { name: string }) => tensor.name)).toContain('base_model.model.transformer.h.0.mlp.c_proj.ia3_l');
  });
});

describe('prompt methods (registered by @peftjs/prompt-tuning)', () => {
  it('trains prompt tuning and generates with a Python prompt-tuning adapter', async () => {
    const out = join(work(), 'prompt-tuning');
    const trained = await cli(
      'train',
      '--base',
      fixture('gpt2-lora', 'base'),
      '--data',
      fixture('gpt2-lora', 'data.jsonl'),
      '--method',
      'prompt-tuning',
      '--num-virtual-tokens',
      '4',
      '--epochs',
      '1',
      '--out',
      out,
    );
    expect(trained.code, trained.stderr).toBe(0);
    const info = JSON.parse((await cli('inspect', out, '--json')).stdout);
    expect(info.peft_type).toBe('PROMPT_TUNING');
    expect(info.tensors).toEqual([{ name: 'prompt_embeddings', dtype: 'F32', shape: [4, 32], parameters: 128 }]);
    const io = await loadSafetensors(fixture('gpt2-prompt-tuning', 'io.safetensors'), { names: ['input_ids', 'expected_greedy_adapted'] });
    const generated = await cli(
      'generate',
      '--base',
      fixture('gpt2-prompt-tuning', 'base'),
      '--adapter',
      fixture('gpt2-prompt-tuning', 'adapter'),
      '--input-ids',
      JSON.stringify(await io.input_ids!.array()),
      '--max-new-tokens',
      '6',
      '--pad-token-id',
      '0',
      '--json',
    );
    expect(generated.code, generated.stderr).toBe(0);
    expect(JSON.parse(generated.stdout).sequences).toEqual(await io.expected_greedy_adapted!.array());
    tf.dispose(Object.values(io));
  });
});

describe('with the Python PEFT fixtures', () => {
  it('eval: loss and perplexity as transformers computes them', async () => {
    const expected = JSON.parse(await readFile(fixture('gpt2-lora', 'case.json'), 'utf8')).expected_loss;
    const base = await cli('eval', '--base', fixture('gpt2-lora', 'base'), '--data', fixture('gpt2-lora', 'data.jsonl'), '--json', '--batch-size', '3');
    expect(base.code, base.stderr).toBe(0);
    const baseResult = JSON.parse(base.stdout);
    expect(baseResult.tokens).toBe(expected.base_predicted_tokens);
    expect(baseResult.loss).toBeCloseTo(expected.base, 4);
    expect(baseResult.perplexity).toBeCloseTo(Math.exp(expected.base), 2);
    const adapted = await cli('eval', '--base', fixture('gpt2-lora', 'base'), '--adapter', fixture('gpt2-lora', 'adapter'), '--data', fixture('gpt2-lora', 'data.jsonl'), '--json');
    expect(JSON.parse(adapted.stdout).loss).toBeCloseTo(expected.adapted, 4);
    const llama = JSON.parse(await readFile(fixture('llama-lora', 'case.json'), 'utf8')).expected_loss;
    const llamaAdapted = await cli(
      'eval',
      '--base',
      fixture('llama-lora', 'base'),
      '--adapter',
      fixture('llama-lora', 'adapter'),
      '--data',
      fixture('llama-lora', 'data.jsonl'),
      '--json',
    );
    expect(JSON.parse(llamaAdapted.stdout).loss).toBeCloseTo(llama.adapted, 4);
  });

  it('predict writes the adapted logits PEFT computed', async () => {
    const io = await loadSafetensors(fixture('gpt2-lora', 'io.safetensors'));
    const ids = JSON.stringify(await io.input_ids!.array());
    const mask = JSON.stringify(await io.attention_mask!.array());
    const output = join(work(), 'logits.safetensors');
    const result = await cli(
      'predict',
      '--base',
      fixture('gpt2-lora', 'base'),
      '--adapter',
      fixture('gpt2-lora', 'adapter'),
      '--input-ids',
      ids,
      '--attention-mask',
      mask,
      '--output',
      output,
    );
    expect(result.code, result.stderr).toBe(0);
    const { logits } = await loadSafetensors(output);
    expect(logits!.shape).toEqual([2, 8, 100]);
    // Padded positions of row 1 differ by design (transformers attends nowhere there); compare real tokens.
    const maskValues = (await io.attention_mask!.array()) as number[][];
    const keep = tf.tensor3d(maskValues.map((row) => row.map((value) => [value])));
    expect(await maxDifference(tf.mul(logits!, keep), tf.mul(io.expected_adapted!, keep))).toBeLessThan(1e-4);
    tf.dispose([logits!, keep, ...Object.values(io)]);
  });

  it('predict classifies with a BERT sequence-classification adapter (modules_to_save head) and merge writes its folder', async () => {
    const io = await loadSafetensors(fixture('bert-seqcls-lora', 'io.safetensors'));
    const json = async (name: string) => JSON.stringify(await io[name]!.array());
    const output = join(work(), 'bert-logits.safetensors');
    const result = await cli(
      'predict',
      '--base',
      fixture('bert-seqcls-lora', 'base'),
      '--adapter',
      fixture('bert-seqcls-lora', 'adapter'),
      '--input-ids',
      await json('input_ids'),
      '--attention-mask',
      await json('attention_mask'),
      '--token-type-ids',
      await json('token_type_ids'),
      '--output',
      output,
      '--json',
    );
    expect(result.code, result.stderr).toBe(0);
    const { logits } = await loadSafetensors(output);
    expect(logits!.shape).toEqual([2, 2]);
    expect(await maxDifference(logits!, io.expected_adapted!)).toBeLessThan(1e-4);
    expect(JSON.parse(result.stdout).shape).toEqual([2, 2]);
    const merged = await cli('merge', '--base', fixture('bert-seqcls-lora', 'base'), '--adapter', fixture('bert-seqcls-lora', 'adapter'), '--out', join(work(), 'bert-merged'));
    expect(merged.code, merged.stderr).toBe(0);
    const ours = await loadSafetensors(join(work(), 'bert-merged', 'model.safetensors'));
    const theirs = await loadSafetensors(fixture('bert-seqcls-lora', 'merged', 'model.safetensors'));
    expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
    for (const key of Object.keys(theirs)) expect(await maxDifference(ours[key]!, theirs[key]!), key).toBeLessThan(1e-5);
    tf.dispose([logits!, ...Object.values(io), ...Object.values(ours), ...Object.values(theirs)]);
  });

  it('generate --json reproduces PEFT greedy ids, with and without the adapter', async () => {
    for (const name of ['gpt2-lora', 'llama-lora']) {
      const io = await loadSafetensors(fixture(name, 'io.safetensors'));
      const ids = JSON.stringify(await io.input_ids!.array());
      const adapted = await cli(
        'generate',
        '--base',
        fixture(name, 'base'),
        '--adapter',
        fixture(name, 'adapter'),
        '--input-ids',
        ids,
        '--max-new-tokens',
        '6',
        '--pad-token-id',
        '0',
        '--json',
      );
      expect(adapted.code, adapted.stderr).toBe(0);
      expect(JSON.parse(adapted.stdout)).toEqual({ sequences: await io.expected_greedy_adapted!.array(), texts: null });
      const base = await cli('generate', '--base', fixture(name, 'base'), '--input-ids', ids, '--max-new-tokens', '6', '--pad-token-id', '0', '--json', '--greedy');
      expect(JSON.parse(base.stdout).sequences).toEqual(await io.expected_greedy_base!.array());
      tf.dispose(Object.values(io));
    }
  });

  it('generate samples repeatably with a seed, and refuses --greedy with sampling flags', async () => {
    const args = [
      'generate',
      '--base',
      fixture('gpt2-lora', 'base'),
      '--input-ids',
      '[[17, 64, 25, 10]]',
      '--max-new-tokens',
      '8',
      '--temperature',
      '1.5',
      '--top-k',
      '20',
      '--json',
    ];
    const first = await cli(...args, '--seed', '3');
    const again = await cli(...args, '--seed', '3');
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).sequences[0]).toHaveLength(12);
    expect(first.stdout).toBe(again.stdout);
    const both = await cli(...args, '--greedy');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--greedy cannot be combined/);
  });

  it('merge writes the model PEFT merge_and_unload() saves', async () => {
    for (const name of ['gpt2-lora', 'llama-lora']) {
      const out = join(work(), `merged-${name}`);
      const result = await cli('merge', '--base', fixture(name, 'base'), '--adapter', fixture(name, 'adapter'), '--out', out);
      expect(result.code, result.stderr).toBe(0);
      const ours = await loadSafetensors(join(out, 'model.safetensors'));
      const theirs = await loadSafetensors(fixture(name, 'merged', 'model.safetensors'));
      expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
      for (const key of Object.keys(theirs)) {
        expect(ours[key]!.shape, key).toEqual(theirs[key]!.shape);
        expect(await maxDifference(ours[key]!, theirs[key]!), key).toBeLessThan(1e-5);
      }
      expect(JSON.parse(await readFile(join(out, 'config.json'), 'utf8'))).toEqual(JSON.parse(await readFile(fixture(name, 'base', 'config.json'), 'utf8')));
      expect(await readFile(join(out, 'generation_config.json'), 'utf8')).toBe(await readFile(fixture(name, 'base', 'generation_config.json'), 'utf8'));
      tf.dispose([...Object.values(ours), ...Object.values(theirs)]);
    }
  });

  it('inspect shows the method, the tensors and the parameter count', async () => {
    const result = await cli('inspect', fixture('llama-lora', 'adapter'));
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/method: lora \(peft_type LORA\)/);
    expect(result.stdout).toMatch(/base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight\s+F32\s+\[\d+, 32\]/);
    expect(result.stdout).toMatch(/\d+ tensors, [\d,]+ parameters/);
    expect(result.stdout).toMatch(/adapter_model\.safetensors \([\d,]+ bytes\)/);
  });
});

describe('push and pull through the Hub', () => {
  it('pushes an adapter folder and pulls it back', async () => {
    const hub = await startFakeHub({ tokens: ['hf_cli'] });
    const saved = { ...process.env };
    Object.assign(process.env, { HF_ENDPOINT: hub.url, HF_TOKEN: 'hf_cli', HF_HOME: join(work(), 'hf-home') });
    delete process.env.HF_HUB_CACHE;
    delete process.env.HF_HUB_OFFLINE;
    try {
      const pushed = await cli('push', fixture('gpt2-lora', 'adapter'), 'me/gpt2-lora', '--json');
      expect(pushed.code, pushed.stderr).toBe(0);
      expect(hub.readFile('me/gpt2-lora', 'adapter_config.json')).toBeDefined();
      const pulled = await cli('pull', 'me/gpt2-lora', '--json');
      expect(pulled.code, pulled.stderr).toBe(0);
      const { folder, files } = JSON.parse(pulled.stdout);
      expect([...files].filter((file: string) => file !== '.gitattributes').sort()).toEqual(['README.md', 'adapter_config.json', 'adapter_model.safetensors']);
      expect(await readFile(join(folder, 'adapter_model.safetensors'))).toEqual(await readFile(fixture('gpt2-lora', 'adapter', 'adapter_model.safetensors')));
      // A repo id works wherever a folder does.
      const inspected = await cli('inspect', 'me/gpt2-lora', '--json');
      expect(JSON.parse(inspected.stdout).peft_type).toBe('LORA');
      const missing = await cli('pull', 'me/nothing-here');
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/me\/nothing-here/);
    } finally {
      process.env = saved;
      await hub.close();
    }
  });
});

describe('as a subprocess', () => {
  it('runs from the repository root and exits with the right codes', () => {
    const ok = cliProcess(['inspect', 'test-fixtures/peft/gpt2-lora/adapter', '--json'], { PEFTJS_BACKEND: 'wasm' });
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).tensors).toHaveLength(4);
    const bad = cliProcess(['eval', '--base', 'test-fixtures/peft/gpt2-lora/base', '--data', 'test-fixtures/peft/gpt2-lora/data.jsonl'], { PEFTJS_BACKEND: 'quantum' });
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/PEFTJS_BACKEND/);
  });

  it('loads a third-party tuner with --plugin', () => {
    const help = cliProcess(['train', '--help', '--plugin', `${REPO_ROOT}examples/third-party-tuner/src/index.ts`]);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/output-scale/);
    expect(help.stdout).toMatch(/--init-scale-weights/);
  });
});
