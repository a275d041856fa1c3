import type { TunerLayer, TunerV1 } from '@peftjs/core';
import { MultitaskPromptEmbedding, type MultitaskPromptEmbeddingOptions } from './multitask-prompt-embedding-layer';
import { checkSource, initialiseFromSource } from './multitask-prompt-source';
import { multitaskPromptStateDictFormat } from './multitask-prompt-state-dict';
import {
  MULTITASK_PROMPT_TUNING_PEFT_TYPE,
  MULTITASK_WEIGHT_PREFIX,
  multitaskPromptTuningConfigSchema,
  parseMultitaskPromptTuningConfig,
  type MultitaskPromptTuningConfig,
} from './multitask-prompt-tuning-config';
import type { PreparedPromptConfig } from './prompt-learning-config';
import { createPromptLearningTuner } from './prompt-learning-tuner';
import { textInitIds } from './text-init';

const promptLearning = createPromptLearningTuner<MultitaskPromptTuningConfig>({
  peftType: MULTITASK_PROMPT_TUNING_PEFT_TYPE,
  weightPrefix: MULTITASK_WEIGHT_PREFIX,
  kind: 'input',
  parseConfig: parseMultitaskPromptTuningConfig,
  configFields: multitaskPromptTuningConfigSchema.fields,
  serializeConfig: (config) => multitaskPromptTuningConfigSchema.serialize(config),
  embeddingLayer: MultitaskPromptEmbedding,
  embeddingOptions(config, context, baseLayer): MultitaskPromptEmbeddingOptions {
    const total = config.numVirtualTokens * config.numTransformerSubmodules;
    return {
      numVirtualTokens: config.numVirtualTokens,
      totalVirtualTokens: total,
      tokenDim: config.tokenDim,
      methodPrefix: MULTITASK_WEIGHT_PREFIX,
      encoder: null,
      initTokenIds: textInitIds(config, context.config, baseLayer, total),
      numTasks: config.numTasks,
      numRanks: config.numRanks,
    };
  },
});

function afterAdd(layer: TunerLayer, adapterName: string, config: MultitaskPromptTuningConfig): void {
  if (layer instanceof MultitaskPromptEmbedding) initialiseFromSource(layer, adapterName, config);
}

/**
 * Multitask prompt tuning (PEFT's MULTITASK_PROMPT_TUNING): a shared soft prompt scaled per task
 * by a low-rank matrix, chosen per row by `taskIds`. Register it with
 * `registerTuner(multitaskPromptTuning)`; run it with `peftModel.predict(inputs, { taskIds })`,
 * `generate(..., { taskIds })` or `forwardCausalLm(peftModel, { ..., taskIds })`.
 */
export const multitaskPromptTuning: TunerV1<MultitaskPromptTuningConfig> = {
  ...promptLearning,
  layers: [...promptLearning.layers, MultitaskPromptEmbedding],
  stateDictFormat: multitaskPromptStateDictFormat,
  prepareConfig(config, context) {
    const prepared = promptLearning.prepareConfig!(config, context);
    checkSource(prepared as PreparedPromptConfig<MultitaskPromptTuningConfig>);
    return prepared;
  },
  createLayer(baseLayer, context) {
    const layer = promptLearning.createLayer(baseLayer, context);
    afterAdd(layer, context.adapterName, context.config);
    return layer;
  },
  updateLayer(layer, context) {
    promptLearning.updateLayer(layer, context);
    afterAdd(layer, context.adapterName, context.config);
  },
};
