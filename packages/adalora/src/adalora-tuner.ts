import {
  biasOptionHooks,
  correctFanInFanOut,
  innermostLayer,
  InvalidConfigError,
  isLinearLayerClass,
  queryValueTargets,
  warn,
  type PeftModel,
  type TargetDefaults,
  type TunerV1,
} from '@peftjs/core';
import { ADALORA_PEFT_TYPE, adaloraConfigSchema, type AdaLoraConfig } from './adalora-config';
import { ADALORA_DEFAULT_TARGETS } from './adalora-default-targets';
import { AdaLoraDense, type AdaLoraAdapterOptions } from './adalora-layer';
import { orthogonalRegularization } from './orthogonal-regularization';
import { updateAndAllocate } from './update-and-allocate';
import * as tf from '@tensorflow/tfjs-core';

/** AdaLoRA saves under LoRA's prefix, as PEFT does (`lora_A`, `lora_B`, `lora_E`). */
export const ADALORA_WEIGHT_PREFIX = 'lora_';

/** Options for an AdaLoRA tuner instance. */
export interface AdaLoraSettings {
  /** Default targets per model type, on top of (and overriding) PEFT 0.11.1's table. */
  defaultTargets?: Readonly<Record<string, TargetDefaults>>;
}

/** The per-layer options: init_r, alpha, dropout, init, and the kept triplets from rank_pattern. */
export function adaloraAdapterOptions(config: AdaLoraConfig, path: string, adapterName: string): AdaLoraAdapterOptions {
  const pattern = config.rankPattern;
  const rankMask = pattern ? (pattern[`${path}.lora_E`] ?? pattern[`${path}.lora_E.${adapterName}`] ?? null) : null;
  return { r: config.initR, loraAlpha: config.loraAlpha, loraDropout: config.loraDropout, initLoraWeights: config.initLoraWeights, rankMask: rankMask ? [...rankMask] : null };
}

/** Builds an AdaLoRA tuner; `adalora` is the ready default instance. */
export function createAdalora(settings: AdaLoraSettings = {}): TunerV1<AdaLoraConfig> {
  const defaultTargets = { ...ADALORA_DEFAULT_TARGETS, ...(settings.defaultTargets ?? {}) };
  return {
    specificationVersion: 'v1',
    peftType: ADALORA_PEFT_TYPE,
    weightPrefix: ADALORA_WEIGHT_PREFIX,
    // PEFT's `bias` option ('none' | 'all' | '<method>_only'), shared through core.
    ...biasOptionHooks(ADALORA_WEIGHT_PREFIX),
    sharesWeightPrefix: true,
    packageName: '@peftjs/adalora',
    layers: [AdaLoraDense],
    supportedLayerClasses: ['Dense', 'and every class registered with registerLinearLayerClass (GPT-2 Conv1D)'],
    defaultTargets,
    // An AdaLoRA layer may wrap another tuner's layer (PEFT's PeftMixedModel): it adds its delta to that layer's output.
    mixedCompatible: true,
    canAdapt: (layer) => isLinearLayerClass(layer.getClassName()),
    configFields: adaloraConfigSchema.fields,
    parseConfig: (raw) => adaloraConfigSchema.parse(raw),
    serializeConfig: (config) => adaloraConfigSchema.serialize(config),
    defaultTargetsForArchitecture: queryValueTargets,
    checkNewAdapter(config, existing) {
      // LoraModel's check, which AdaLoraModel inherits: with several adapters, the new one has bias "none".
      if (existing.size > 0 && config.bias !== 'none') {
        throw new InvalidConfigError(
          `AdaLoraModel supports only 1 adapter with bias. When using multiple adapters, set bias to 'none' for all adapters (the new adapter has bias ${JSON.stringify(config.bias)}).`,
          { field: 'bias' },
        );
      }
      // PEFT's AdaLoraModel: only one adapter may be trainable; the others load in inference mode.
      const trainable = [...existing.values(), config].filter((entry) => !entry.inferenceMode).length;
      if (trainable > 1) {
        throw new InvalidConfigError(
          'AdaLoraModel supports only 1 trainable adapter. When using multiple adapters, set inference_mode to True for all adapters except the one you want to train.',
          { field: 'inference_mode' },
        );
      }
    },
    createLayer(baseLayer, context) {
      correctFanInFanOut(innermostLayer(baseLayer), context);
      const layer = new AdaLoraDense({ baseLayer });
      layer.addAdapter(context.adapterName, adaloraAdapterOptions(context.config, context.path, context.adapterName));
      return layer;
    },
    updateLayer(layer, context) {
      correctFanInFanOut(innermostLayer(layer), context);
      layer.addAdapter(context.adapterName, adaloraAdapterOptions(context.config, context.path, context.adapterName));
    },
    training: {
      extraLoss({ peftModel, adapterName }) {
        const model = peftModel as PeftModel;
        const config = model.peftConfig[adapterName] as AdaLoraConfig | undefined;
        if (!config || config.peftType !== ADALORA_PEFT_TYPE || config.inferenceMode) return null;
        if (config.orthRegWeight <= 0) throw new InvalidConfigError('orth_reg_weight should be greater than 0. ', { field: 'orth_reg_weight' });
        // The engine runs the rank allocator after every step, which needs the schedule's length: say so before the first update.
        if (config.totalStep === null) {
          throw new InvalidConfigError('AdaLoRA training needs total_step (the number of optimizer steps) for its rank allocation schedule; set total_step (--total-step)', {
            field: 'total_step',
          });
        }
        return tf.tidy(() => tf.mul(orthogonalRegularization(model, adapterName), config.orthRegWeight) as tf.Scalar);
      },
      afterOptimizerStep({ peftModel, globalStep, gradients }) {
        // The engine counts the step that just ran (1 after the first); PEFT's loops pass 0 then.
        const pending = updateAndAllocate(peftModel as PeftModel, globalStep - 1, gradients);
        // An engine may not await the hook: a failed read-back of the pattern must not become an unhandled rejection.
        pending.catch((error: unknown) => warn(`AdaLoRA could not record its rank pattern after step ${globalStep}: ${(error as Error).message}`));
        return pending;
      },
    },
  };
}

/** The AdaLoRA tuner with PEFT 0.11.1's defaults: `registerTuner(adalora)`. */
export const adalora: TunerV1<AdaLoraConfig> = createAdalora();
