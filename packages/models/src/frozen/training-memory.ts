import type { LayersModel } from '@tensorflow/tfjs-layers';
import { getModelInfo } from '@peftjs/core';
import { lossChunkRows } from '../loss/chunked-cross-entropy';
import { layerProjection } from '../loss/lm-head-projection';
import { FrozenWeightVariable } from './frozen-weight-variable';
import type { MemoryEstimate } from './memory-estimate';

/**
 * The wasm heap a step grows by, relative to the textbook count of activation values kept for the
 * backward pass (Korthikanti et al. 2022: per token and layer 16·h + 4·i + 2.5·heads·seq values).
 * With lean backprop (`initBackend`'s default) bench/scale/memory-profile.ts measures about 0.5
 * (SmolLM-135M, batch 2 × 128: 300 MB) to 0.6 (GPT-2 124M, batch 4 × 128: 420 MB); 1 leaves room
 * for the heap's growth steps and for tfjs' own gradients when lean backprop is off.
 */
const TFJS_ACTIVATION_FACTOR = 1;

export interface TrainingMemoryOptions {
  batchSize: number;
  sequenceLength: number;
  /** Recompute each decoder layer in the backward pass (only layer inputs are kept). */
  gradientCheckpointing?: boolean;
}

function integer(config: Record<string, unknown>, ...keys: string[]): number | undefined {
  for (const key of keys) if (typeof config[key] === 'number') return config[key] as number;
  return undefined;
}

/**
 * An estimate of what a training step needs: activations kept for the backward pass and the
 * logits over the vocabulary (a chunk of them behind a frozen head; wasm heap), the model's tfjs variables with a gradient and two Adam
 * moments for each trainable one; frozen weights in a store count outside the heap. The options
 * that would help are listed for the error message.
 */
export function estimateTrainingMemory(model: LayersModel, options: TrainingMemoryOptions): MemoryEstimate {
  const config = (getModelInfo(model).config ?? {}) as Record<string, unknown>;
  const hidden = integer(config, 'hidden_size', 'n_embd', 'd_model') ?? 0;
  const layers = integer(config, 'num_hidden_layers', 'n_layer', 'num_layers') ?? 0;
  const heads = integer(config, 'num_attention_heads', 'n_head', 'num_heads') ?? 1;
  const intermediate = integer(config, 'intermediate_size', 'n_inner', 'd_ff', 'ffn_dim') ?? 4 * hidden;
  const vocab = integer(config, 'vocab_size') ?? 0;
  const tokens = options.batchSize * options.sequenceLength;
  const perLayer = TFJS_ACTIVATION_FACTOR * (16 * hidden + 4 * intermediate + 2.5 * heads * options.sequenceLength);
  const activationValues = options.gradientCheckpointing ? tokens * (layers * hidden + perLayer) : tokens * layers * perLayer;
  // A frozen head is scored chunk by chunk (causalLmTrainingLoss); a trainable one makes full logits.
  const output = model.outputs.length === 1 ? model.outputs[0]!.sourceLayer : undefined;
  // The chunked loss keeps two chunk-sized tensors alive at once.
  const logitValues = output && layerProjection(output) ? Math.min(2 * lossChunkRows(vocab) * vocab, 3 * tokens * vocab) : 3 * tokens * vocab;
  let variables = 0;
  let trainable = 0;
  let outside = 0;
  for (const weight of model.weights) {
    const count = weight.shape.reduce((product: number, size) => product * (size ?? 1), 1);
    if (FrozenWeightVariable.isFrozenWeightVariable(weight)) {
      outside += weight.weight.bytes;
      continue;
    }
    variables += count;
    if (weight.trainable) trainable += count;
  }
  const heapBytes = 4 * (activationValues + logitValues + variables + 3 * trainable);
  const hints: string[] = [];
  if (variables > 50_000_000) hints.push('--quantization nf4');
  if (!options.gradientCheckpointing && layers > 1) hints.push('--gradient-checkpointing');
  if (options.batchSize > 1) hints.push(`a smaller batch (--batch-size ${Math.max(1, Math.floor(options.batchSize / 2))})`);
  if (options.sequenceLength > 128) hints.push('shorter rows (--max-length)');
  return { heapBytes, outsideBytes: outside, mappedBytes: 0, hints };
}

/** Whether an error is the wasm heap running out (tfjs-wasm aborts, or an access past the heap). */
export function isWasmOutOfMemory(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /Aborted\(|memory access out of bounds|Out of memory|Cannot enlarge memory|Array buffer allocation failed/i.test(message);
}
