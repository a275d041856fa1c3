import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { getPeftModel, registerTuner } from '@peftjs/core';
import { fromPretrained, savePretrained } from '@peftjs/hub';
import { createLoraConfig, lora } from '@peftjs/lora';

export interface QuickstartReport {
  trainableParameters: string;
  pretrainLoss: number;
  newTaskLossBefore: number;
  newTaskLossAfter: number;
  adapterFiles: Record<string, number>;
  reloadMaxDifference: number;
  mergeMaxDifference: number;
}

const FEATURES = 16;
const CLASSES = 4;

/** A deterministic classification task: class = argmax of x·W for a fixed random W (task A), or of a rotated W (task B). */
function makeTask(seed: number, rows: number, rotation: number): { xs: tf.Tensor2D; ys: tf.Tensor2D } {
  return tf.tidy(() => {
    const xs = tf.randomNormal([rows, FEATURES], 0, 1, 'float32', seed) as tf.Tensor2D;
    const teacherA = tf.randomNormal([FEATURES, CLASSES], 0, 1, 'float32', 1);
    const teacherB = tf.randomNormal([FEATURES, CLASSES], 0, 1, 'float32', 2);
    const teacher = tf.add(tf.mul(teacherA, Math.cos(rotation)), tf.mul(teacherB, Math.sin(rotation)));
    const ys = tf.cast(tf.oneHot(tf.argMax(tf.matMul(xs, teacher), 1), CLASSES), 'float32') as tf.Tensor2D;
    return { xs, ys };
  });
}

function baseModel(): tfl.LayersModel {
  const x = tfl.input({ shape: [FEATURES], name: 'x' });
  let h = tfl.layers.dense({ units: 64, name: 'encoder.lin0', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }).apply(x) as tfl.SymbolicTensor;
  h = tfl.layers.activation({ activation: 'relu', name: 'encoder.act0' }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.dense({ units: 64, name: 'encoder.lin1', kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.activation({ activation: 'relu', name: 'encoder.act1' }).apply(h) as tfl.SymbolicTensor;
  const logits = tfl.layers.dense({ units: CLASSES, name: 'head', kernelInitializer: tfl.initializers.glorotUniform({ seed: 5 }) }).apply(h) as tfl.SymbolicTensor;
  const probabilities = tfl.layers.activation({ activation: 'softmax', name: 'softmax' }).apply(logits) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: probabilities, name: 'quickstart' });
}

async function lossOf(model: tfl.LayersModel, xs: tf.Tensor, ys: tf.Tensor): Promise<number> {
  const loss = tf.tidy(() => tf.mean(tfl.metrics.categoricalCrossentropy(ys, model.predict(xs) as tf.Tensor)));
  const [value] = await loss.data();
  loss.dispose();
  return value!;
}

async function maxDifference(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const [value] = await difference.data();
  difference.dispose();
  return value!;
}

/**
 * Pretrains a small classifier on task A, adapts it to task B with LoRA (only the adapter
 * trains), saves the adapter in PEFT's format, reloads it on a fresh copy of the base, and
 * merges it — checking the outputs agree at every step.
 */
export async function runQuickstart(options: { log?: (line: string) => void; epochs?: number } = {}): Promise<QuickstartReport> {
  const log = options.log ?? (() => {});
  const epochs = options.epochs ?? 30;
  registerTuner(lora);

  const taskA = makeTask(10, 512, 0);
  const taskB = makeTask(11, 512, 1.2);
  const base = baseModel();
  base.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
  const pretrain = await base.fit(taskA.xs, taskA.ys, { epochs, batchSize: 64, verbose: 0 });
  const pretrainLoss = (pretrain.history.loss as number[]).at(-1)!;
  log(`pretrained on task A: loss ${pretrainLoss.toFixed(4)}`);
  const baseWeights = base.getWeights().map((weight) => weight.clone());

  const peftModel = getPeftModel(base, createLoraConfig({ r: 4, loraAlpha: 8, targetModules: ['encoder.lin0', 'encoder.lin1'] }));
  const trainableParameters = peftModel.trainableParametersReport();
  log(trainableParameters);
  const newTaskLossBefore = await lossOf(peftModel.model, taskB.xs, taskB.ys);
  peftModel.model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
  await peftModel.model.fit(taskB.xs, taskB.ys, { epochs, batchSize: 64, verbose: 0 });
  const newTaskLossAfter = await lossOf(peftModel.model, taskB.xs, taskB.ys);
  log(`task B loss with LoRA: ${newTaskLossBefore.toFixed(4)} → ${newTaskLossAfter.toFixed(4)}`);

  const folder = await mkdtemp(join(tmpdir(), 'peftjs-quickstart-'));
  try {
    await savePretrained(peftModel, folder);
    const adapterFiles: Record<string, number> = {};
    for (const name of await readdir(folder)) adapterFiles[name] = (await stat(join(folder, name))).size;
    log(
      `saved ${Object.entries(adapterFiles)
        .map(([name, size]) => `${name} (${size} bytes)`)
        .join(', ')}`,
    );

    const freshBase = baseModel();
    freshBase.setWeights(baseWeights);
    const reloaded = await fromPretrained(freshBase, folder);
    const adapted = peftModel.model.predict(taskB.xs) as tf.Tensor;
    const again = reloaded.model.predict(taskB.xs) as tf.Tensor;
    const reloadMaxDifference = await maxDifference(adapted, again);
    log(`reloaded adapter: max |difference| ${reloadMaxDifference.toExponential(2)}`);

    const merged = await reloaded.mergeAndUnload();
    const mergedOutput = merged.predict(taskB.xs) as tf.Tensor;
    const mergeMaxDifference = await maxDifference(adapted, mergedOutput);
    log(`merged into the base weights: max |difference| ${mergeMaxDifference.toExponential(2)}`);
    tf.dispose([adapted, again, mergedOutput, ...baseWeights, taskA.xs, taskA.ys, taskB.xs, taskB.ys]);
    return { trainableParameters, pretrainLoss, newTaskLossBefore, newTaskLossAfter, adapterFiles, reloadMaxDifference, mergeMaxDifference };
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
