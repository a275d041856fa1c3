import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { getPeftModel, registerTuner } from '@peftjs/core';
import { createLoraConfig, lora } from '@peftjs/lora';
import { savePretrained } from '@peftjs/hub';

/**
 * The layers LoRA adapts: the Dense head and the last 1×1 (pointwise) convolutions. (Adapting an
 * earlier pointwise conv trains through a depthwise conv, whose input gradient the wasm backend
 * lacks in TF.js 4.22 — fine on cpu and tensorflow.)
 */
export const TARGETS = ['dense_1', 'dense_2', 'block_16_project', 'Conv_1'];

/**
 * Loads the pretrained MobileNetV2 (ImageNet features, fine-tuned by nsfwjs into a 5-class
 * classifier) that the nsfwjs npm package bundles as JS modules: the Keras topology and the
 * quantized weights, decoded offline with tf.io.fromMemory.
 */
export async function loadNsfwMobileNetV2(): Promise<tfl.LayersModel> {
  const { MobileNetV2Model } = await import('nsfwjs/models/mobilenet_v2');
  const json = (await MobileNetV2Model.modelJson()) as { default?: unknown };
  const bundle = (await MobileNetV2Model.weightBundles[0]!()) as { default?: unknown };
  const artifacts = (json.default ?? json) as { modelTopology: object; weightsManifest: Array<{ weights: tf.io.WeightsManifestEntry[] }> };
  const weights = Buffer.from((bundle.default ?? bundle) as string, 'base64');
  const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
  return tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: artifacts.modelTopology, weightSpecs: artifacts.weightsManifest.flatMap((group) => group.weights), weightData }));
}

/**
 * The new 2-class task: pictures of stripes, horizontal (class 0) or vertical (class 1), in random
 * colours, frequencies and phases, with noise. Deterministic for a seed.
 */
export function makeStripes(count: number, seed: number, size = 224): { xs: tf.Tensor4D; ys: tf.Tensor2D; labels: number[] } {
  let state = seed >>> 0;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  const labels: number[] = [];
  const pixels = new Float32Array(count * size * size * 3);
  for (let index = 0; index < count; index++) {
    const label = index % 2;
    labels.push(label);
    const period = 12 + random() * 28;
    const phase = random() * period;
    const colorA = [random(), random(), random()];
    const colorB = [random(), random(), random()];
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const coordinate = label === 0 ? y : x;
        const on = Math.floor((coordinate + phase) / (period / 2)) % 2 === 0;
        const color = on ? colorA : colorB;
        const offset = ((index * size + y) * size + x) * 3;
        for (let channel = 0; channel < 3; channel++) pixels[offset + channel] = Math.min(1, Math.max(0, color[channel]! + (random() - 0.5) * 0.2));
      }
    }
  }
  return tf.tidy(() => ({ xs: tf.tensor4d(pixels, [count, size, size, 3]), ys: tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 2), 'float32') as tf.Tensor2D, labels }));
}

export interface MobileNetLoraReport {
  trainableParameters: string;
  lossBefore: number;
  lossAfter: number;
  accuracyBefore: number;
  accuracyAfter: number;
  baseWeightsUnchanged: boolean;
  adapterBytes: number;
  adapterTensors: number;
}

async function scalar(tensor: tf.Tensor): Promise<number> {
  const value = (await tensor.data())[0]!;
  tensor.dispose();
  return value;
}

/**
 * Adapts the pretrained MobileNetV2 to the stripes task with LoRA: the classifier's 5 outputs are
 * read as 2 classes (outputs 0 and 1, renormalised), and only the LoRA factors train.
 */
export async function runMobileNetLora(
  options: { trainImages?: number; epochs?: number; lr?: number; out?: string; log?: (line: string) => void } = {},
): Promise<MobileNetLoraReport> {
  const log = options.log ?? (() => {});
  registerTuner(lora);
  const base = await loadNsfwMobileNetV2();
  log(`loaded nsfwjs's MobileNetV2: ${base.layers.length} layers, ${base.countParams().toLocaleString('en-US')} parameters, input [${base.inputs[0]!.shape.slice(1).join(', ')}]`);
  const baseSnapshot = new Map(base.weights.map((weight) => [weight.originalName, weight.read().clone()]));

  const peftModel = getPeftModel(base, createLoraConfig({ r: 4, loraAlpha: 8, targetModules: TARGETS }));
  const trainableParameters = peftModel.trainableParametersReport();
  log(trainableParameters);
  const model = peftModel.model;
  const train = makeStripes(options.trainImages ?? 16, 1);
  const test = makeStripes(8, 2);

  // Two classes from the first two of the model's five softmax outputs.
  const twoClass = (probabilities: tf.Tensor) =>
    tf.tidy(() => {
      const pair = tf.slice(probabilities, [0, 0], [-1, 2]);
      return tf.div(pair, tf.sum(pair, -1, true));
    });
  const lossOn = (xs: tf.Tensor, ys: tf.Tensor, training: boolean) =>
    tf.tidy(() => tf.mean(tfl.metrics.categoricalCrossentropy(ys, twoClass(model.apply(xs, { training }) as tf.Tensor))) as tf.Scalar);
  const accuracyOn = (xs: tf.Tensor, labels: number[]) =>
    tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(twoClass(model.predict(xs) as tf.Tensor), -1), tf.tensor1d(labels, 'int32')), 'float32')));

  const lossBefore = await scalar(lossOn(test.xs, test.ys, false));
  const accuracyBefore = await scalar(accuracyOn(test.xs, test.labels));
  const variables = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
  const optimizer = tf.train.adam(options.lr ?? 2e-3);
  const batch = 8;
  for (let epoch = 1; epoch <= (options.epochs ?? 6); epoch++) {
    let total = 0;
    for (let start = 0; start < train.labels.length; start += batch) {
      const size = Math.min(batch, train.labels.length - start);
      const xs = tf.slice(train.xs, [start, 0, 0, 0], [size, -1, -1, -1]);
      const ys = tf.slice(train.ys, [start, 0], [size, -1]);
      // training: false keeps BatchNormalization on its pretrained statistics (the base is frozen).
      const loss = optimizer.minimize(() => lossOn(xs, ys, false), true, variables)!;
      total += (await scalar(loss)) * size;
      tf.dispose([xs, ys]);
    }
    log(`epoch ${epoch}: train loss ${(total / train.labels.length).toFixed(4)}`);
  }
  const lossAfter = await scalar(lossOn(test.xs, test.ys, false));
  const accuracyAfter = await scalar(accuracyOn(test.xs, test.labels));
  log(`held-out stripes: loss ${lossBefore.toFixed(4)} → ${lossAfter.toFixed(4)}, accuracy ${(accuracyBefore * 100).toFixed(0)}% → ${(accuracyAfter * 100).toFixed(0)}%`);

  let baseWeightsUnchanged = true;
  for (const weight of base.weights) {
    const before = baseSnapshot.get(weight.originalName);
    if (!before || (await scalar(tf.max(tf.abs(tf.sub(weight.read(), before))))) !== 0) baseWeightsUnchanged = false;
  }
  log(`base weights unchanged: ${baseWeightsUnchanged}`);

  const state = peftModel.getStateDict('default');
  const adapterTensors = Object.keys(state).length;
  const adapterBytes = Object.values(state).reduce((sum, tensor) => sum + tensor.size * 4, 0);
  tf.dispose(Object.values(state));
  if (options.out) {
    await savePretrained(peftModel, options.out);
    log(`saved the adapter to ${options.out}`);
  }
  log(`adapter: ${adapterTensors} tensors, ${(adapterBytes / 1024).toFixed(1)} KiB (the base model's weights: ${((base.countParams() * 4) / 1024 / 1024).toFixed(1)} MiB)`);
  optimizer.dispose();
  tf.dispose([...baseSnapshot.values(), train.xs, train.ys, test.xs, test.ys]);
  return { trainableParameters, lossBefore, lossAfter, accuracyBefore, accuracyAfter, baseWeightsUnchanged, adapterBytes, adapterTensors };
}
