import { warn, type TunerV1 } from '@peftjs/core';
import { P_TUNING_PEFT_TYPE } from './prompt-learning-config';
import { createPromptLearningTuner } from './prompt-learning-tuner';
import { promptEncoderConfigSchema, type PromptEncoderConfig } from './prompt-encoder-config';

/**
 * P-tuning (PEFT's P_TUNING, `PromptEncoderConfig`): virtual-token embeddings reparameterised by
 * an MLP or a bidirectional LSTM encoder while training; saved (and loaded) as the encoder's
 * output. Register it with `registerTuner(pTuning)`.
 */
export const pTuning: TunerV1<PromptEncoderConfig> = createPromptLearningTuner<PromptEncoderConfig>({
  peftType: P_TUNING_PEFT_TYPE,
  weightPrefix: 'p_tuning_',
  kind: 'input',
  configFields: promptEncoderConfigSchema.fields,
  parseConfig: (raw) => promptEncoderConfigSchema.parse(raw),
  serializeConfig: (config) => promptEncoderConfigSchema.serialize(config),
  prepareMethodConfig: (config) => ({ ...config, encoderHiddenSize: config.encoderHiddenSize ?? config.tokenDim }),
  embeddingOptions(config) {
    const type = config.encoderReparameterizationType;
    if (type === 'MLP' && config.encoderNumLayers !== 2 && !config.inferenceMode) {
      warn(`for MLP, the argument \`encoder_num_layers\` is ignored. Exactly 2 MLP layers are used.`);
    }
    return {
      numVirtualTokens: config.numVirtualTokens,
      totalVirtualTokens: config.numVirtualTokens * config.numTransformerSubmodules,
      tokenDim: config.tokenDim,
      methodPrefix: 'p_tuning_',
      // In inference mode PEFT builds no encoder: the saved (encoded) prompt is used as it is.
      encoder: config.inferenceMode ? null : { type, hiddenSize: config.encoderHiddenSize ?? config.tokenDim, numLayers: config.encoderNumLayers, dropout: config.encoderDropout },
      initTokenIds: null,
    };
  },
});
