import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadSafetensors } from '@peftjs/hub';
import { peftFixturePath } from './index';

interface ArchitectureLayer {
  name: string;
  kind: 'Linear' | 'Conv2d' | 'Embedding' | 'ReLU';
  in_features?: number;
  out_features?: number;
  num_embeddings?: number;
  embedding_dim?: number;
  in_channels?: number;
  out_channels?: number;
  kernel_size?: number[];
  stride?: number[];
  padding?: number[];
  bias?: boolean;
}

/** Every tensor of a safetensors file in a fixture case (the caller disposes them). */
export async function loadFixtureTensors(caseName: string, ...file: string[]): Promise<Record<string, tf.Tensor>> {
  return loadSafetensors(peftFixturePath(caseName, ...file));
}

function denseLayer(layer: ArchitectureLayer): tfl.layers.Layer {
  return tfl.layers.dense({ units: layer.out_features!, useBias: layer.bias !== false, name: layer.name });
}

/**
 * The custom torch models of the fixtures (`MLP`, `EmbConvNet`) as tfjs models with the same
 * layer names and the base weights loaded, converted from torch layouts.
 */
export async function loadFixtureBaseModel(caseName: string): Promise<tfl.LayersModel> {
  const architecture = JSON.parse(readFileSync(peftFixturePath(caseName, 'base', 'architecture.json'), 'utf8')) as { class: string; layers: ArchitectureLayer[] };
  let model: tfl.LayersModel;
  if (architecture.class === 'MLP') {
    const first = architecture.layers[0]!;
    const x = tfl.input({ shape: [first.in_features!], name: 'x' });
    let h = x;
    for (const layer of architecture.layers) {
      h = (layer.kind === 'ReLU' ? tfl.layers.activation({ activation: 'relu', name: layer.name }) : denseLayer(layer)).apply(h) as tfl.SymbolicTensor;
    }
    model = tfl.model({ inputs: x, outputs: h, name: 'mlp' });
  } else if (architecture.class === 'EmbConvNet') {
    const byName = new Map(architecture.layers.map((layer) => [layer.name, layer]));
    const emb = byName.get('emb')!;
    const conv = byName.get('conv')!;
    const ids = tfl.input({ shape: [null as unknown as number], dtype: 'int32', name: 'ids' });
    const img = tfl.input({ shape: [null as unknown as number, null as unknown as number, conv.in_channels!], name: 'img' });
    const embedded = tfl.layers.embedding({ inputDim: emb.num_embeddings!, outputDim: emb.embedding_dim!, name: 'emb' }).apply(ids) as tfl.SymbolicTensor;
    const convolved = tfl.layers
      .conv2d({ filters: conv.out_channels!, kernelSize: conv.kernel_size!, strides: conv.stride!, padding: 'valid', name: 'conv', useBias: conv.bias !== false })
      .apply(img) as tfl.SymbolicTensor;
    const pooledIds = tfl.layers.globalAveragePooling1d({ name: 'emb_mean' }).apply(embedded) as tfl.SymbolicTensor;
    const pooledImg = tfl.layers.globalAveragePooling2d({ name: 'conv_mean' }).apply(convolved) as tfl.SymbolicTensor;
    let h = tfl.layers.add({ name: 'sum' }).apply([pooledIds, pooledImg]) as tfl.SymbolicTensor;
    for (const layer of architecture.layers.filter((entry) => entry.name.startsWith('seq.'))) {
      h = (layer.kind === 'ReLU' ? tfl.layers.activation({ activation: 'relu', name: layer.name }) : denseLayer(layer)).apply(h) as tfl.SymbolicTensor;
    }
    model = tfl.model({ inputs: [ids, img], outputs: h, name: 'emb_conv_net' });
  } else {
    throw new Error(`unknown fixture architecture ${architecture.class}`);
  }
  const weights = await loadFixtureTensors(caseName, 'base', 'model.safetensors');
  for (const layer of architecture.layers) {
    if (layer.kind === 'ReLU') continue;
    const target = model.getLayer(layer.name);
    const weight = weights[`${layer.name}.weight`]!;
    const converted =
      layer.kind === 'Linear' ? tf.transpose(weight) : layer.kind === 'Conv2d' ? tf.transpose(weight, [2, 3, 1, 0]) : weight.clone();
    const bias = weights[`${layer.name}.bias`];
    target.setWeights(bias ? [converted, bias] : [converted]);
    converted.dispose();
  }
  tf.dispose(Object.values(weights));
  return model;
}

/** The fixture's inputs in tfjs order and layout (NCHW images become NHWC, int64 ids int32). */
export function fixtureInputs(io: Record<string, tf.Tensor>): tf.Tensor | tf.Tensor[] {
  if (io.x) return io.x;
  return [tf.cast(io.ids!, 'int32'), tf.transpose(io.img!, [0, 2, 3, 1])];
}
