import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { readSafetensors } from './safetensors';

/** The repo's copy of the Python PEFT 0.11.1 reference cases. */
export const FIXTURES = fileURLToPath(new URL('../../../../test-fixtures/peft/', import.meta.url));

export function readJson<T = Record<string, unknown>>(relative: string): T {
  return JSON.parse(readFileSync(`${FIXTURES}${relative}`, 'utf8')) as T;
}

export function readTensors(relative: string): Record<string, tf.Tensor> {
  return readSafetensors(`${FIXTURES}${relative}`);
}

interface ArchitectureLayer {
  name: string;
  kind: 'Linear' | 'Conv2d' | 'Embedding' | 'ReLU';
  in_features?: number;
  out_features?: number;
  num_embeddings?: number;
  embedding_dim?: number;
  in_channels?: number;
  out_channels?: number;
  kernel_size?: [number, number];
}

/** Torch state dict → tfjs weights of the layer named like the module (Linear transposed, Conv2d OIHW → HWIO). */
function setTorchWeights(model: tfl.LayersModel, state: Record<string, tf.Tensor>, architecture: { layers: ArchitectureLayer[] }): void {
  for (const spec of architecture.layers) {
    if (spec.kind === 'ReLU') continue;
    const layer = model.getLayer(spec.name);
    const weight = state[`${spec.name}.weight`]!;
    const values: tf.Tensor[] = [];
    if (spec.kind === 'Linear') values.push(tf.transpose(weight));
    else if (spec.kind === 'Conv2d') values.push(tf.transpose(weight, [2, 3, 1, 0]));
    else values.push(weight.clone());
    const bias = state[`${spec.name}.bias`];
    if (bias) values.push(bias.clone());
    layer.setWeights(values);
    tf.dispose(values);
  }
}

/** The fixtures' MLP (`lin0 → relu → lin1 → relu → lin2`) as a tfjs model with the base weights loaded. */
export function loadMlp(caseName: string): tfl.LayersModel {
  const architecture = readJson<{ layers: ArchitectureLayer[] }>(`${caseName}/base/architecture.json`);
  const specs = architecture.layers;
  const linear = specs.filter((spec) => spec.kind === 'Linear');
  const model = tfl.sequential({
    layers: linear.map((spec, index) => {
      const next = specs[specs.indexOf(spec) + 1];
      return tfl.layers.dense({
        units: spec.out_features!,
        name: spec.name,
        activation: next?.kind === 'ReLU' ? 'relu' : 'linear',
        ...(index === 0 ? { inputShape: [spec.in_features!] } : {}),
      });
    }),
  });
  const state = readTensors(`${caseName}/base/model.safetensors`);
  setTorchWeights(model, state, architecture);
  tf.dispose(Object.values(state));
  return model;
}

/** net-lora-conv-emb's EmbConvNet: inputs ids [batch, seq] and img NHWC; h = mean(emb(ids)) + mean(conv(img)); seq.lin0 → relu → seq.lin1 → relu → seq.lin2. */
export function loadEmbConvNet(caseName = 'net-lora-conv-emb'): tfl.LayersModel {
  const architecture = readJson<{ layers: ArchitectureLayer[] }>(`${caseName}/base/architecture.json`);
  const byName = Object.fromEntries(architecture.layers.map((spec) => [spec.name, spec]));
  const emb = byName.emb!;
  const conv = byName.conv!;
  const ids = tfl.input({ shape: [null], dtype: 'int32', name: 'ids' });
  const img = tfl.input({ shape: [null, null, conv.in_channels!], name: 'img' });
  const embedded = tfl.layers.embedding({ inputDim: emb.num_embeddings!, outputDim: emb.embedding_dim!, name: 'emb' }).apply(ids) as tfl.SymbolicTensor;
  const pooledIds = tfl.layers.globalAveragePooling1d({ name: 'emb_mean' }).apply(embedded) as tfl.SymbolicTensor;
  const convolved = tfl.layers.conv2d({ filters: conv.out_channels!, kernelSize: conv.kernel_size!, padding: 'valid', name: 'conv' }).apply(img) as tfl.SymbolicTensor;
  const pooledImg = tfl.layers.globalAveragePooling2d({ name: 'conv_mean' }).apply(convolved) as tfl.SymbolicTensor;
  let hidden = tfl.layers.add({ name: 'sum' }).apply([pooledIds, pooledImg]) as tfl.SymbolicTensor;
  const linear = architecture.layers.filter((spec) => spec.kind === 'Linear');
  for (const spec of linear) {
    const next = architecture.layers[architecture.layers.indexOf(spec) + 1];
    hidden = tfl.layers.dense({ units: spec.out_features!, name: spec.name, activation: next?.kind === 'ReLU' ? 'relu' : 'linear' }).apply(hidden) as tfl.SymbolicTensor;
  }
  const model = tfl.model({ inputs: [ids, img], outputs: hidden, name: 'EmbConvNet' });
  const state = readTensors(`${caseName}/base/model.safetensors`);
  setTorchWeights(model, state, architecture);
  tf.dispose(Object.values(state));
  return model;
}
