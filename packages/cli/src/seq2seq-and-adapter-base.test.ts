import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { loadSafetensors } from '@peftjs/hub';
import { cliWorkFolder, maxDifference } from './__fixtures__/python-adapter-case';
import { cli, fixture } from './__fixtures__/run';

const work = cliWorkFolder('seq2seq');

const json = async (tensor: tf.Tensor) => JSON.stringify(await tensor.array());

describe('encoder-decoders (mT5)', () => {
  it('predict --decoder-input-ids writes the adapted decoder logits [batch, decoder_len, vocab]; without them it says what is missing', async () => {
    const io = await loadSafetensors(fixture('mt5-lora-seq2seq', 'io.safetensors'));
    const output = join(work(), 'mt5-logits.safetensors');
    const args = [
      'predict',
      '--base',
      fixture('mt5-lora-seq2seq', 'base'),
      '--adapter',
      fixture('mt5-lora-seq2seq', 'adapter'),
      '--input-ids',
      await json(io.input_ids!),
      '--attention-mask',
      await json(io.attention_mask!),
    ];
    const result = await cli(...args, '--decoder-input-ids', await json(io.decoder_input_ids!), '--output', output);
    expect(result.code, result.stderr).toBe(0);
    const { logits } = await loadSafetensors(output);
    expect(logits!.shape).toEqual([2, 6, 128]);
    // |logits| reaches ~22 here: the fixture's tolerance is atol + rtol·|x| with both 1e-4.
    expect(await maxDifference(logits!, io.expected_adapted!)).toBeLessThan(1e-4 + 1e-4 * 25);
    const missing = await cli(...args, '--output', output);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/encoder-decoder.*--decoder-input-ids/);
    tf.dispose([logits!, ...Object.values(io)]);
  });

  it('generate returns the decoder ids PEFT generated (LoRA and seq2seq prompt tuning), with the encoder padding mask', async () => {
    for (const name of ['mt5-lora-seq2seq', 'mt5-prompt-tuning-seq2seq']) {
      const io = await loadSafetensors(fixture(name, 'io.safetensors'));
      const args = ['--input-ids', await json(io.input_ids!), '--attention-mask', await json(io.attention_mask!), '--max-new-tokens', '6', '--pad-token-id', '0', '--json'];
      const adapted = await cli('generate', '--base', fixture(name, 'base'), '--adapter', fixture(name, 'adapter'), ...args);
      expect(adapted.code, adapted.stderr).toBe(0);
      expect(JSON.parse(adapted.stdout).sequences).toEqual(await io.expected_greedy_adapted!.array());
      const base = await cli('generate', '--base', fixture(name, 'base'), ...args);
      expect(JSON.parse(base.stdout).sequences).toEqual(await io.expected_greedy_base!.array());
      tf.dispose(Object.values(io));
    }
  });

  it('eval scores {"input_ids","labels"} rows: the loss averaged over label tokens', async () => {
    const expected = JSON.parse(await readFile(fixture('mt5-lora-seq2seq', 'case.json'), 'utf8')).expected_loss;
    const data = fixture('mt5-lora-seq2seq', 'data.jsonl');
    const adapted = await cli(
      'eval',
      '--base',
      fixture('mt5-lora-seq2seq', 'base'),
      '--adapter',
      fixture('mt5-lora-seq2seq', 'adapter'),
      '--data',
      data,
      '--json',
      '--batch-size',
      '3',
    );
    expect(adapted.code, adapted.stderr).toBe(0);
    const result = JSON.parse(adapted.stdout);
    expect(result.tokens).toBe(expected.adapted_predicted_tokens);
    expect(result.loss).toBeCloseTo(expected.adapted, 4);
    const base = JSON.parse((await cli('eval', '--base', fixture('mt5-lora-seq2seq', 'base'), '--data', data, '--json')).stdout);
    expect(base.loss).toBeCloseTo(expected.base, 4);
    const causalRows = await cli('eval', '--base', fixture('mt5-lora-seq2seq', 'base'), '--data', fixture('opt-lora', 'data.jsonl'));
    expect(causalRows.code).toBe(2);
    expect(causalRows.stderr).toMatch(/\{"input_ids": \[\.\.\.\], "labels": \[\.\.\.\]\} rows/);
  });
});

describe('--base left out: the adapter names its base', () => {
  it('predict and generate with opt-lora/adapter-with-base-path ("../base") reproduce PEFT', async () => {
    const io = await loadSafetensors(fixture('opt-lora', 'io.safetensors'));
    const output = join(work(), 'opt-logits.safetensors');
    const adapter = fixture('opt-lora', 'adapter-with-base-path');
    const predicted = await cli('predict', '--adapter', adapter, '--input-ids', await json(io.input_ids!), '--attention-mask', await json(io.attention_mask!), '--output', output);
    expect(predicted.code, predicted.stderr).toBe(0);
    const { logits } = await loadSafetensors(output);
    expect(await maxDifference(logits!, io.expected_adapted!)).toBeLessThan(1e-4);
    const generated = await cli('generate', '--adapter', adapter, '--input-ids', await json(io.input_ids!), '--max-new-tokens', '6', '--pad-token-id', '0', '--json');
    expect(generated.code, generated.stderr).toBe(0);
    expect(JSON.parse(generated.stdout).sequences).toEqual(await io.expected_greedy_adapted!.array());
    tf.dispose([logits!, ...Object.values(io)]);
  });

  it('an adapter with an empty base_model_name_or_path, or no adapter at all, asks for --base', async () => {
    const empty = await cli('generate', '--adapter', fixture('opt-lora', 'adapter'), '--input-ids', '[[5, 6]]');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/give --base: .*base_model_name_or_path is empty/);
    const none = await cli('generate', '--input-ids', '[[5, 6]]');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/give --base, or an --adapter/);
  });
});
