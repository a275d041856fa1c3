import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { AutoModelForCausalLM, AutoTokenizer, ModelLoadError, generate, generateText, loadTokenizer } from './index';
import { peftFixturePath as fixturePath } from '../../../test-fixtures/index';

const folder = (name: string) => fileURLToPath(new URL(`./__fixtures__/tokenizers/${name}/`, import.meta.url));

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('tokenizer.json through @huggingface/tokenizers', () => {
  it('WordPiece (BERT): special tokens, pairs with token types, decode', async () => {
    const tokenizer = await AutoTokenizer.fromPretrained(folder('tiny-wordpiece'));
    const encoded = tokenizer.encode('The cat sat on the mat, playing.');
    expect(encoded.inputIds).toEqual([2, 5, 6, 7, 8, 5, 9, 16, 12, 13, 15, 3]);
    expect(tokenizer.decode(encoded.inputIds, { skipSpecialTokens: true })).toBe('the cat sat on the mat, playing.');
    expect(tokenizer.encode('hello', { textPair: 'world' })).toEqual({ inputIds: [2, 10, 3, 11, 3], attentionMask: [1, 1, 1, 1, 1], tokenTypeIds: [0, 0, 0, 1, 1] });
    expect(tokenizer.encode('hello', { addSpecialTokens: false }).inputIds).toEqual([10]);
    expect(tokenizer.encode('zebra').inputIds).toEqual([2, 1, 3]);
    expect([tokenizer.padTokenId, tokenizer.unkTokenId, tokenizer.modelMaxLength]).toEqual([0, 1, 16]);
  });

  it('pads batches like transformers (right by default, left on request, truncation)', async () => {
    const tokenizer = await AutoTokenizer.fromPretrained(folder('tiny-wordpiece'));
    const right = tokenizer.encodeBatch(['hello world', 'the cat']);
    expect(right.inputIds).toEqual([
      [2, 10, 11, 3],
      [2, 5, 6, 3],
    ]);
    const mixed = tokenizer.encodeBatch(['hello', 'the cat sat'], { paddingSide: 'left' });
    expect(mixed.inputIds).toEqual([
      [0, 0, 2, 10, 3],
      [2, 5, 6, 7, 3],
    ]);
    expect(mixed.attentionMask).toEqual([
      [0, 0, 1, 1, 1],
      [1, 1, 1, 1, 1],
    ]);
    expect(tokenizer.encodeBatch(['the cat sat on the mat'], { truncation: true, maxLength: 4 }).inputIds).toEqual([[2, 5, 6, 7]]);
    expect(tokenizer.encodeBatch(['hello'], { padding: 'max_length', maxLength: 5 }).inputIds).toEqual([[2, 10, 3, 0, 0]]);
  });

  it('byte-level BPE (GPT-2): merges, spaces, EOS from tokenizer_config', async () => {
    const tokenizer = await AutoTokenizer.fromPretrained(folder('tiny-bpe'));
    const ids = tokenizer.encode('hello world the cat').inputIds;
    expect(tokenizer.tokenize('hello world')).toEqual(['hello', 'Ġworld']);
    expect(tokenizer.decode(ids)).toBe('hello world the cat');
    expect(tokenizer.eosTokenId).toBe(0);
    expect(tokenizer.batchDecode([ids.slice(0, 2), [0]], { skipSpecialTokens: true })).toEqual(['hello world', '']);
  });

  it('a folder without tokenizer.json: loadTokenizer gives undefined, AutoTokenizer a clear error', async () => {
    expect(await loadTokenizer(fixturePath('gpt2-lora', 'base'))).toBeUndefined();
    const error = await AutoTokenizer.fromPretrained(fixturePath('gpt2-lora', 'base')).catch((caught: unknown) => caught);
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/has no tokenizer\.json; pass token ids directly/);
  });

  it('generateText: text in, text out, equal to generate on the ids', async () => {
    const tokenizer = await AutoTokenizer.fromPretrained(folder('tiny-bpe'));
    const model = AutoModelForCausalLM.fromConfig(
      { model_type: 'gpt2', n_layer: 1, n_embd: 16, n_head: 2, vocab_size: tokenizer.vocabSize, n_positions: 32, initializer_range: 0.3 },
      { seed: 3 },
    );
    const before = tf.memory().numTensors;
    const [text] = await generateText(model, tokenizer, 'hello world', { maxNewTokens: 4, eosTokenId: null });
    const ids = tokenizer.encode('hello world').inputIds;
    const [row] = await generate(model, [ids], { maxNewTokens: 4, eosTokenId: null });
    expect(text).toBe(tokenizer.decode(row!.slice(ids.length), { skipSpecialTokens: true }));
    const texts = await generateText(model, tokenizer, ['hello', 'hello world the'], { maxNewTokens: 3, eosTokenId: null });
    const alone = await generateText(model, tokenizer, 'hello', { maxNewTokens: 3, eosTokenId: null });
    expect(texts[0]).toBe(alone[0]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
