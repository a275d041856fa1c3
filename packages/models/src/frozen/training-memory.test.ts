import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, expect, it } from 'vitest';
import { loadPeftCase } from '../../../../test-fixtures/peft-case';
import { loadPretrained } from '../auto/load-pretrained';
import { estimateTrainingMemory } from './training-memory';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

it('a frozen (stored) head is estimated at one chunk of logits, a trainable head at the full [tokens, vocab] logits', async () => {
  const { baseDir, io } = await loadPeftCase('llama-lora');
  tf.dispose(Object.values(io));
  const before = tf.memory().numTensors;
  const plain = await loadPretrained(baseDir, 'causal-lm');
  const stored = await loadPretrained(baseDir, 'causal-lm', { dtype: 'float32', frozenStore: 'arrays' });
  const vocab = 128;
  // The estimates differ by the heap variables the store holds instead (the same at any batch)
  // and by the logits: past one chunk (4 M values), the stored model's stop growing.
  const gap = (batchSize: number) => {
    const shape = { batchSize, sequenceLength: 64, gradientCheckpointing: true };
    return estimateTrainingMemory(plain, shape).heapBytes - estimateTrainingMemory(stored, shape).heapBytes;
  };
  expect(gap(16)).toBe(gap(32)); // 1024 and 2048 tokens: under one chunk, both count every logit
  expect(gap(2048) - gap(1024)).toBe(4 * 3 * (2048 - 1024) * 64 * vocab); // over it, only the trainable head's grow
  plain.dispose();
  stored.dispose();
  expect(tf.memory().numTensors).toBe(before);
});
