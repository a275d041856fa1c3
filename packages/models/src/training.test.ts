import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AutoModelForCausalLM,
  compileForLabels,
  AutoModelForSequenceClassification,
  AutoModelForTokenClassification,
  IGNORE_INDEX,
  causalLmLoss,
  createSequenceClassificationLoss,
  sequenceClassificationLoss,
  tokenClassificationLoss,
} from './index';
import { TINY_BERT, TINY_GPT2, TINY_LLAMA } from '../../../test-fixtures/tiny-configs';

// The cpu backend: the wasm backend has no UnsortedSegmentSum (embedding gradients) until @peftjs/runtime adds it.
beforeAll(async () => {
  await tf.setBackend('cpu');
});

const SEQUENCES = [
  [1, 2, 3, 4, 5, 6],
  [7, 8, 9, 10, 11, 12],
  [2, 4, 6, 8, 10, 12],
  [3, 6, 9, 12, 15, 18],
];

describe('losses equal transformers', () => {
  it('causal-LM loss shifts the labels and skips -100', async () => {
    const logits = tf.randomNormal([2, 4, 5], 0, 1, 'float32', 3);
    const labels = tf.tensor2d(
      [
        [1, 2, IGNORE_INDEX, 4],
        [0, IGNORE_INDEX, 3, 1],
      ],
      [2, 4],
      'int32',
    );
    const before = tf.memory().numTensors;
    const loss = causalLmLoss(labels, logits);
    // By hand: positions (row, t) score logits[t] against labels[t + 1] where that label is not -100.
    const logSoftmax = tf.logSoftmax(logits);
    const logProbabilities = (await logSoftmax.array()) as number[][][];
    logSoftmax.dispose();
    const pairs: Array<[number, number, number]> = [
      [0, 0, 2],
      [0, 2, 4],
      [1, 1, 3],
      [1, 2, 1],
    ];
    const expected = -pairs.reduce((sum, [row, t, label]) => sum + logProbabilities[row]![t]![label]!, 0) / pairs.length;
    expect((await loss.data())[0]).toBeCloseTo(expected, 5);
    loss.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([logits, labels]);
  });

  it('token classification (no shift) and the three sequence-classification problem types', async () => {
    const before = tf.memory().numTensors;
    const logitValues = [
      [2, -1, 0.5],
      [0, 1, -2],
    ];
    const logProbabilities = logitValues.map((row) => {
      const total = Math.log(row.reduce((sum, value) => sum + Math.exp(value), 0));
      return row.map((value) => value - total);
    });
    const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
    const targets = [
      [1, 0, 1],
      [0, 0, 1],
    ];
    const bce = logitValues.flatMap((row, r) => row.map((x, c) => -(targets[r]![c]! * Math.log(sigmoid(x)) + (1 - targets[r]![c]!) * Math.log(1 - sigmoid(x)))));
    const values = tf.tidy(() => {
      const logits = tf.tensor2d(logitValues);
      return [
        sequenceClassificationLoss(tf.tensor1d([0, 2], 'int32'), logits),
        tokenClassificationLoss(tf.tensor2d([[0, IGNORE_INDEX]], [1, 2], 'int32'), tf.reshape(logits, [1, 2, 3])),
        createSequenceClassificationLoss('multi_label_classification')(tf.tensor2d(targets), logits),
        sequenceClassificationLoss(tf.tensor1d([1, 2]), tf.tensor2d([[1.5], [1]])),
      ];
    });
    const [single, tokens, multi, regression] = await Promise.all(values.map(async (value) => (await value.data())[0]!));
    tf.dispose(values);
    expect(single).toBeCloseTo(-(logProbabilities[0]![0]! + logProbabilities[1]![2]!) / 2, 5);
    expect(tokens).toBeCloseTo(-logProbabilities[0]![0]!, 5);
    expect(multi).toBeCloseTo(bce.reduce((a, b) => a + b) / 6, 5);
    expect(regression).toBeCloseTo((0.25 + 1) / 2, 5);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe.each([
  ['gpt2', TINY_GPT2],
  ['llama', TINY_LLAMA],
] as const)('training %s', (_name, config) => {
  it('model.fit with causalLmLoss lowers the loss; memory stays flat', async () => {
    const model = AutoModelForCausalLM.fromConfig(config, { seed: 21 });
    compileForLabels(model, { optimizer: tf.train.adam(0.01), loss: causalLmLoss });
    const ids = tf.tensor2d(SEQUENCES, [4, 6], 'int32');
    const mask = tf.onesLike(ids);
    const first = await model.fit([ids, mask], ids, { epochs: 1, batchSize: 2, verbose: 0, shuffle: false });
    const before = tf.memory().numTensors;
    const history = await model.fit([ids, mask], ids, { epochs: 15, batchSize: 2, verbose: 0, shuffle: false });
    expect(tf.memory().numTensors).toBe(before);
    const losses = history.history.loss as number[];
    expect(losses[losses.length - 1]!).toBeLessThan((first.history.loss as number[])[0]! * 0.7);
    tf.dispose([ids, mask]);
    model.dispose();
  });

  it('a custom loop with optimizer.minimize lowers the loss; memory stays flat', async () => {
    const model = AutoModelForCausalLM.fromConfig(config, { seed: 22 });
    const optimizer = tf.train.adam(0.01);
    const ids = tf.tensor2d(SEQUENCES, [4, 6], 'int32');
    const mask = tf.onesLike(ids);
    const step = () => optimizer.minimize(() => causalLmLoss(ids, model.apply([ids, mask], { training: true }) as tf.Tensor), true)!;
    const firstLoss = step();
    const initial = (await firstLoss.data())[0]!;
    firstLoss.dispose();
    const before = tf.memory().numTensors;
    let last = initial;
    for (let index = 0; index < 15; index++) {
      const loss = step();
      last = (await loss.data())[0]!;
      loss.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(last).toBeLessThan(initial * 0.7);
    optimizer.dispose();
    tf.dispose([ids, mask]);
    model.dispose();
  });
});

describe('training BERT heads', () => {
  it('sequence and token classification fit', async () => {
    const before = tf.memory().numTensors;
    const optimizers = [tf.train.adam(0.01), tf.train.adam(0.01)];
    const ids = tf.tensor2d(SEQUENCES, [4, 6], 'int32');
    const mask = tf.tensor2d([
      [1, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 0, 0],
      [1, 1, 1, 1, 1, 1],
      [1, 1, 1, 0, 0, 0],
    ]);
    const types = tf.zerosLike(ids);
    const sequenceModel = AutoModelForSequenceClassification.fromConfig(TINY_BERT, { seed: 23 });
    compileForLabels(sequenceModel, { optimizer: optimizers[0]!, loss: createSequenceClassificationLoss('single_label_classification') });
    const classes = tf.tensor1d([0, 1, 2, 1], 'int32');
    const sequenceHistory = await sequenceModel.fit([ids, mask, types], classes, { epochs: 20, batchSize: 4, verbose: 0 });
    const sequenceLosses = sequenceHistory.history.loss as number[];
    expect(sequenceLosses[sequenceLosses.length - 1]!).toBeLessThan(sequenceLosses[0]! * 0.5);

    const tokenModel = AutoModelForTokenClassification.fromConfig(TINY_BERT, { seed: 24 });
    compileForLabels(tokenModel, { optimizer: optimizers[1]!, loss: tokenClassificationLoss });
    const tags = tf.tensor2d(
      SEQUENCES.map((row) => row.map((id) => id % 3)),
      [4, 6],
      'int32',
    );
    const tokenHistory = await tokenModel.fit([ids, mask, types], tags, { epochs: 20, batchSize: 4, verbose: 0 });
    const tokenLosses = tokenHistory.history.loss as number[];
    expect(tokenLosses[tokenLosses.length - 1]!).toBeLessThan(tokenLosses[0]! * 0.5);
    tf.dispose([ids, mask, types, classes, tags]);
    sequenceModel.dispose();
    tokenModel.dispose();
    for (const optimizer of optimizers) optimizer.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
