import * as tf from '@tensorflow/tfjs-core';
import { AdapterStateError, type PeftModel } from '@peftjs/core';
import { ADALORA_PEFT_TYPE, type AdaLoraConfig } from './adalora-config';
import { AdaLoraDense } from './adalora-layer';
import { RankAllocator, type AdaLoraLayerEntry } from './rank-allocator';

/** Gradients of a step by variable name (what `tf.variableGrads` returns, or a Map). */
export type StepGradients = ReadonlyMap<string, tf.Tensor> | Readonly<Record<string, tf.Tensor>>;

const allocators = new WeakMap<PeftModel, RankAllocator>();

/** The one trainable AdaLoRA adapter of a model (PEFT's `trainable_adapter_name`). */
export function trainableAdaloraAdapter(peftModel: PeftModel): { adapterName: string; config: AdaLoraConfig } {
  const trainable = Object.entries(peftModel.peftConfig).filter(([, config]) => config.peftType === ADALORA_PEFT_TYPE && !config.inferenceMode);
  if (trainable.length === 0) {
    throw new AdapterStateError(
      `the model has no trainable AdaLoRA adapter (adapters: ${Object.keys(peftModel.peftConfig).join(', ') || 'none'}); load it with isTrainable / inference_mode false to train it`,
    );
  }
  const [adapterName, config] = trainable[0]!;
  return { adapterName, config: config as AdaLoraConfig };
}

/** The AdaLoRA layers that hold an adapter, with their module paths (in a mixed model, also those wrapped by another tuner's layer). */
export function adaloraLayers(peftModel: PeftModel, adapterName: string): AdaLoraLayerEntry[] {
  return peftModel
    .adapterLayerEntries()
    .filter((entry) => entry.layer instanceof AdaLoraDense && entry.layer.hasAdapter(adapterName))
    .map((entry) => ({ path: entry.path, layer: entry.layer as AdaLoraDense }));
}

/** The model's rank allocator (made on first use, as PEFT makes it with the model). */
export function rankAllocatorOf(peftModel: PeftModel): RankAllocator {
  const { adapterName, config } = trainableAdaloraAdapter(peftModel);
  let allocator = allocators.get(peftModel);
  if (!allocator || allocator.adapterName !== adapterName || allocator.config !== config) {
    allocator?.dispose();
    allocator = new RankAllocator(config, adapterName, adaloraLayers(peftModel, adapterName));
    allocators.set(peftModel, allocator);
  }
  return allocator;
}

/** Frees the allocator's statistics and masks (training is over). */
export function disposeRankAllocator(peftModel: PeftModel): void {
  allocators.get(peftModel)?.dispose();
  allocators.delete(peftModel);
}

/**
 * PEFT's `update_and_allocate(global_step)`, to call after each optimizer step with that step's
 * gradients (before they are freed), counting steps from 0 as PEFT's examples do. Before
 * `total_step - tfinal` it updates the sensitivity scores and, on the budget schedule, prunes the
 * least important triplets (their lora_E entries become 0); at `total_step - tfinal` it makes the
 * final allocation; after it, it keeps the pruned entries at 0.
 *
 * The tensor work is done when this returns; the promise resolves once the kept-triplet pattern
 * has been read back into the config's `rank_pattern` (what a save writes).
 */
export function updateAndAllocate(peftModel: PeftModel, globalStep: number, gradients: StepGradients): Promise<void> {
  if (!Number.isInteger(globalStep) || globalStep < 0) throw new AdapterStateError(`globalStep must be a whole number >= 0; got ${globalStep}`);
  const allocator = rankAllocatorOf(peftModel);
  const { adapterName, config } = allocator;
  const layers = adaloraLayers(peftModel, adapterName);
  const lookup = gradients instanceof Map ? (name: string) => gradients.get(name) : (name: string) => (gradients as Readonly<Record<string, tf.Tensor>>)[name];
  const gradientOf = (variable: { name: string }) => lookup(variable.name);
  const finalStep = allocator.finalStep;
  let kept: ReturnType<RankAllocator['maskToBudget']> | undefined;
  if (globalStep < finalStep) {
    allocator.updateImportance(layers, gradientOf);
    const { budget, maskIndicator } = allocator.budgetSchedule(globalStep);
    if (maskIndicator) kept = allocator.maskToBudget(layers, budget);
  } else if (globalStep === finalStep) {
    kept = allocator.maskToBudget(layers, allocator.budgetSchedule(globalStep).budget);
    allocator.resetImportance();
  } else {
    allocator.maskWithFinalPattern(layers);
  }
  if (!kept) return Promise.resolve();
  return recordPattern(allocator, config, kept);
}

/** Reads the kept masks back (asynchronously) into each layer's save view and the config's rank_pattern. */
async function recordPattern(allocator: RankAllocator, config: AdaLoraConfig, kept: ReturnType<RankAllocator['maskToBudget']>): Promise<void> {
  const allocation = allocator.allocation;
  try {
    const values = await Promise.all(kept.map(({ kept: mask }) => mask.data()));
    if (allocation !== allocator.allocation) return;
    const pattern: Record<string, boolean[]> = {};
    kept.forEach(({ entry }, index) => {
      const mask = Array.from(values[index]!, (value) => value !== 0);
      entry.layer.setRankMask(allocator.adapterName, mask);
      pattern[`${entry.path}.lora_E`] = mask;
    });
    config.rankPattern = pattern;
  } finally {
    tf.dispose(kept.map(({ kept: mask }) => mask));
  }
}
