import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { BuildOptions } from '../architectures/build-options';
import type { ModelTask } from '../architectures/model-types';
import { loadPretrained, modelFromConfig, type FromPretrainedOptions } from './load-pretrained';
import { ModelLoadError } from '../errors';

/** A transformers class as a loader: `GPT2LMHeadModel.fromPretrained(dir)` → a tf.LayersModel. */
export interface PretrainedModelClass {
  readonly className: string;
  readonly task: ModelTask;
  /** Loads a model folder or Hub repo id; the model type must match (Auto classes dispatch instead). */
  fromPretrained(dirOrRepoId: string, options?: FromPretrainedOptions): Promise<LayersModel>;
  /** Builds the model from config.json fields (snake_case) with fresh weights. */
  fromConfig(config: Readonly<Record<string, unknown>>, options?: BuildOptions): LayersModel;
}

/** An `AutoModelFor…` class: dispatches on config.json's model_type. */
export interface AutoModelClass {
  readonly task: ModelTask;
  fromPretrained(dirOrRepoId: string, options?: FromPretrainedOptions): Promise<LayersModel>;
  fromConfig(config: Readonly<Record<string, unknown>>, options?: BuildOptions): LayersModel;
}

function autoClass(task: ModelTask): AutoModelClass {
  return {
    task,
    fromPretrained: (dirOrRepoId, options) => loadPretrained(dirOrRepoId, task, options),
    fromConfig: (config, options) => modelFromConfig(config, task, options),
  };
}

function modelClass(className: string, modelTypes: readonly string[], task: ModelTask): PretrainedModelClass {
  const check = (modelType: unknown, where: string) => {
    if (modelType !== undefined && !modelTypes.includes(modelType as string)) {
      throw new ModelLoadError(
        `${className} loads model_type ${modelTypes.join(' or ')}, but ${where} has "${String(modelType)}"; use an AutoModel class to dispatch on model_type`,
        {
          problem: 'invalid-config',
        },
      );
    }
  };
  return {
    className,
    task,
    fromPretrained: (dirOrRepoId, options) => loadPretrained(dirOrRepoId, task, options, { className, modelTypes }),
    fromConfig(config, options) {
      check(config.model_type, 'the config');
      return modelFromConfig({ model_type: modelTypes[0], ...config }, task, options);
    },
  };
}

export const AutoModel = autoClass('base');
export const AutoModelForCausalLM = autoClass('causal-lm');
export const AutoModelForSeq2SeqLM = autoClass('seq2seq-lm');
export const AutoModelForSequenceClassification = autoClass('sequence-classification');
export const AutoModelForTokenClassification = autoClass('token-classification');

export const GPT2Model = modelClass('GPT2Model', ['gpt2'], 'base');
export const GPT2LMHeadModel = modelClass('GPT2LMHeadModel', ['gpt2'], 'causal-lm');
export const LlamaModel = modelClass('LlamaModel', ['llama'], 'base');
export const LlamaForCausalLM = modelClass('LlamaForCausalLM', ['llama'], 'causal-lm');
export const MistralForCausalLM = modelClass('MistralForCausalLM', ['mistral'], 'causal-lm');
export const Qwen2ForCausalLM = modelClass('Qwen2ForCausalLM', ['qwen2'], 'causal-lm');
export const OPTModel = modelClass('OPTModel', ['opt'], 'base');
export const OPTForCausalLM = modelClass('OPTForCausalLM', ['opt'], 'causal-lm');
export const BloomModel = modelClass('BloomModel', ['bloom'], 'base');
export const BloomForCausalLM = modelClass('BloomForCausalLM', ['bloom'], 'causal-lm');
export const T5Model = modelClass('T5Model', ['t5'], 'base');
export const T5ForConditionalGeneration = modelClass('T5ForConditionalGeneration', ['t5'], 'seq2seq-lm');
export const MT5Model = modelClass('MT5Model', ['mt5'], 'base');
export const MT5ForConditionalGeneration = modelClass('MT5ForConditionalGeneration', ['mt5'], 'seq2seq-lm');
export const BertModel = modelClass('BertModel', ['bert'], 'base');
export const BertForSequenceClassification = modelClass('BertForSequenceClassification', ['bert'], 'sequence-classification');
export const BertForTokenClassification = modelClass('BertForTokenClassification', ['bert'], 'token-classification');
