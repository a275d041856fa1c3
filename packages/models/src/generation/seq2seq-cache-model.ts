import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { ATTENTION_MASK, DECODER_ATTENTION_MASK, DECODER_INPUT_IDS, INPUT_IDS, inputName, isEncoderDecoder } from '../architectures/inputs';
import { cacheGraph, type KeyValueLayout } from './cache-graph';

/**
 * An encoder-decoder split for cached generation, over the same layer objects as the model it
 * was derived from (so the same weights, and the same adapters):
 *
 * - `encoder`: `[input_ids, attention_mask]` → for each cross-attention layer i its keys and
 *   values, `cross.i.key`, `cross.i.value` `[batch, enc_len, heads * headDim]` — computed once
 *   per prompt, as transformers caches cross-attention;
 * - `decoder`: `[decoder_input_ids [batch, new], attention_mask [batch, enc_len],
 *   decoder_attention_mask [batch, past + new], ...cross keys/values, ...past keys/values]` →
 *   `[logits [batch, new, vocab], ...present keys/values]`, the past and present of each decoder
 *   self-attention layer `[batch, heads, past (+ new), headDim]`.
 */
export interface Seq2SeqCacheModel {
  readonly encoder: LayersModel;
  readonly decoder: LayersModel;
  readonly source: LayersModel;
  /** Cross-attention layers, in order (each contributes a key and a value). */
  readonly numCrossAttentionLayers: number;
  /** The decoder's self-attention layers, in order. */
  readonly layers: readonly KeyValueLayout[];
}

const derived = new WeakMap<LayersModel, Seq2SeqCacheModel>();

function findInput(model: LayersModel, name: string): SymbolicTensor {
  const input = model.inputs.find((candidate) => inputName(candidate) === name);
  if (!input) throw new Error(`${model.name} has no "${name}" input`);
  return input;
}

function isCrossAttention(layer: { getClassName(): string }): boolean {
  return layer.getClassName() === 'CrossAttention';
}

/** A relative position bias that stands for the decoder's causal self-attention mask (T5). */
function isDecoderPositionBias(layer: unknown): boolean {
  const candidate = layer as { getClassName(): string; causal?: boolean };
  return candidate.getClassName() === 'T5RelativePositionBias' && candidate.causal === true;
}

/**
 * Derives (once per model object) the encoder and the cached decoder step of an encoder-decoder
 * built here (T5, mT5) or a PEFT-rewritten copy of one; undefined for other models.
 */
export function seq2seqCacheModel(model: LayersModel): Seq2SeqCacheModel | undefined {
  const known = derived.get(model);
  if (known) return known;
  if (!isEncoderDecoder(model)) return undefined;

  const decoderMask = tfl.input({ shape: [null], dtype: 'float32', name: DECODER_ATTENTION_MASK });
  const crossSources: SymbolicTensor[] = [];
  const crossInputs: SymbolicTensor[] = [];
  const { rebuild, pasts, presents, layouts } = cacheGraph({
    input(tensor) {
      if (inputName(tensor) === INPUT_IDS) throw new Error(`${model.name}: the decoder reads input_ids other than through cross-attention; it cannot be cached`);
      return tensor;
    },
    nodeInputs(layer, node, rebuildInput) {
      if (isCrossAttention(layer)) {
        // Cross-attention keys and values come from the encoder, computed once per prompt.
        const index = crossSources.length / 2;
        const [query, key, value, ...rest] = node.inputTensors;
        const width = key!.shape[key!.shape.length - 1] ?? null;
        const cachedKey = tfl.input({ shape: [null, width as number], dtype: 'float32', name: `cross.${index}.key` });
        const cachedValue = tfl.input({ shape: [null, width as number], dtype: 'float32', name: `cross.${index}.value` });
        crossSources.push(key!, value!);
        crossInputs.push(cachedKey, cachedValue);
        return [rebuildInput(query!), cachedKey, cachedValue, ...rest.map(rebuildInput)];
      }
      if (isDecoderPositionBias(layer)) return [decoderMask, rebuildInput(node.inputTensors[node.inputTensors.length - 1]!)];
      return undefined;
    },
  });

  const logits = rebuild(model.outputs[0]!);
  if (crossSources.length === 0) return undefined;
  const result: Seq2SeqCacheModel = {
    encoder: tfl.model({ inputs: [findInput(model, INPUT_IDS), findInput(model, ATTENTION_MASK)], outputs: crossSources, name: `${model.name}_encoder` }),
    decoder: tfl.model({
      inputs: [findInput(model, DECODER_INPUT_IDS), findInput(model, ATTENTION_MASK), decoderMask, ...crossInputs, ...pasts],
      outputs: [logits, ...presents],
      name: `${model.name}_decoder_step`,
    }),
    source: model,
    numCrossAttentionLayers: crossSources.length / 2,
    layers: layouts,
  };
  derived.set(model, result);
  return result;
}
