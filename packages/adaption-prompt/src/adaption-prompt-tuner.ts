import {
  AdapterStateError,
  getModelInfo,
  InvalidConfigError,
  layerParameters,
  NoMatchingTargetError,
  TunerLayer,
  UnsupportedLayerError,
  type LayerContext,
  type NamedLayer,
  type TunerV1,
} from '@peftjs/core';
import type { layers } from '@tensorflow/tfjs-layers';
import { AdaptedAttention, type AdaptedAttentionOptions, type AttentionProjections } from './adapted-attention-layer';
import { AdaptedOutputProjection } from './adapted-output-projection-layer';
import { ADAPTION_PROMPT_PEFT_TYPE, adaptionPromptConfigSchema, type AdaptionPromptConfig } from './adaption-prompt-config';
import { ADAPTION_PROMPT_DEFAULT_TARGETS, ADAPTION_PROMPT_MODEL_TYPES } from './adaption-prompt-model-types';
import { adaptionPromptStateDictFormat } from './adaption-prompt-state-dict';
import { isAttentionCore } from './attention-conventions';

/** What a selected layer is for. */
type Role = { kind: 'attention'; modulePath: string; projections: AttentionProjections; hiddenSize: number } | { kind: 'output' };

function unwrapped(layer: layers.Layer): layers.Layer {
  return TunerLayer.isTunerLayer(layer) ? layer.baseLayer : layer;
}

/** The module an attention core stands for: `model.layers.1.self_attn-sdpa` → `model.layers.1.self_attn` (models name such cores `<module>-<role>`). */
function modulePathOf(path: string): string {
  const dash = path.lastIndexOf('-');
  return dash >= 0 ? path.slice(0, dash) : path;
}

function hasBias(layer: layers.Layer): boolean {
  return layerParameters(unwrapped(layer)).has('bias');
}

function inputSize(layer: layers.Layer): number | undefined {
  const kernel = unwrapped(layer).weights.find((weight) => /kernel/.test(weight.originalName ?? weight.name));
  return kernel?.shape[0] ?? undefined;
}

/**
 * Adaption prompt (PEFT's ADAPTION_PROMPT, LLaMA-Adapter): learned prompt tokens with a
 * zero-initialised gate in the attention of the top `adapter_layers` decoder layers of a Llama
 * or Mistral model. Register it with `registerTuner(adaptionPrompt)`.
 */
export function createAdaptionPrompt(): TunerV1<AdaptionPromptConfig> {
  /** Per prepared config (one injection): each selected path's role. */
  const roles = new WeakMap<object, Map<string, Role>>();

  const roleOf = (context: LayerContext<AdaptionPromptConfig>): Role => {
    const role = roles.get(context.config)?.get(context.path);
    if (!role) throw new AdapterStateError(`ADAPTION_PROMPT: layer "${context.path}" was not selected for this adapter`);
    return role;
  };

  const addTo = (layer: TunerLayer, role: Role, context: LayerContext<AdaptionPromptConfig>): void => {
    if (role.kind === 'output') {
      layer.addAdapter(context.adapterName, {});
      return;
    }
    const options: AdaptedAttentionOptions = { adapterLen: context.config.adapterLen!, hiddenSize: role.hiddenSize, modulePath: role.modulePath };
    (layer as AdaptedAttention).setProjections(role.projections);
    layer.addAdapter(context.adapterName, options);
  };

  return {
    specificationVersion: 'v1',
    peftType: ADAPTION_PROMPT_PEFT_TYPE,
    weightPrefix: 'adaption_',
    packageName: '@peftjs/adaption-prompt',
    layers: [AdaptedAttention, AdaptedOutputProjection],
    supportedLayerClasses: ['ScaledDotProductAttention'],
    canAdapt: () => true,
    defaultTargets: ADAPTION_PROMPT_DEFAULT_TARGETS,
    stateDictFormat: adaptionPromptStateDictFormat,
    configFields: adaptionPromptConfigSchema.fields,
    parseConfig: (raw) => adaptionPromptConfigSchema.parse(raw),
    serializeConfig: (config) => adaptionPromptConfigSchema.serialize(config),

    /** PEFT's prepare_config: Llama and Mistral only; `target_modules` defaults to the type's attention module. */
    prepareConfig(config, context) {
      const modelType = context.modelType;
      const entry = modelType === undefined ? undefined : ADAPTION_PROMPT_MODEL_TYPES[modelType];
      if (!entry) {
        throw new InvalidConfigError(
          `Unsupported model type for adaption prompt: '${modelType ?? 'unknown'}'. PEFT 0.11.1 supports ${Object.keys(ADAPTION_PROMPT_MODEL_TYPES).join(', ')} (build the model with @peftjs/models or pass { modelType })`,
          { field: 'model_type' },
        );
      }
      return { ...config, targetModules: config.targetModules ?? entry.targetModules };
    },

    selectTargets(config, context, named) {
      const entry = ADAPTION_PROMPT_MODEL_TYPES[context.modelType!]!;
      const target = config.targetModules!;
      const byPath = new Map(named.filter((item) => !item.isContainer).map((item) => [item.path, item] as const));
      // PEFT: every module whose name ends with target_modules, in model order; the last adapter_layers of them.
      const cores: NamedLayer[] = named.filter((item) => !item.isContainer && isAttentionCore(unwrapped(item.layer)) && modulePathOf(item.path).endsWith(target));
      if (cores.length === 0) {
        throw new NoMatchingTargetError(`ADAPTION_PROMPT: no attention module named like "${target}" (target_modules) in the model`);
      }
      if (cores.length < config.adapterLayers!) {
        throw new InvalidConfigError(`Config specifies more adapter layers '${config.adapterLayers}' than the model has '${cores.length}'.`, { field: 'adapter_layers' });
      }
      const selected = new Map<string, Role>();
      const modelConfig = getModelInfo(context.model).config;
      for (const core of cores.slice(cores.length - config.adapterLayers!)) {
        const modulePath = modulePathOf(core.path);
        const find = (child: string): layers.Layer => {
          const found = byPath.get(`${modulePath}.${child}`);
          if (!found) throw new NoMatchingTargetError(`ADAPTION_PROMPT: attention module "${modulePath}" has no "${child}" layer`);
          return found.layer;
        };
        const projections = { kProj: find(entry.kProjLayer), vProj: find(entry.vProjLayer), oProj: find(entry.oProjLayer) };
        const attention = unwrapped(core.layer) as unknown as { rotary?: boolean; fusedQkv?: boolean };
        if (!attention.rotary || attention.fusedQkv) {
          throw new UnsupportedLayerError({
            layerPath: core.path,
            className: core.layer.getClassName(),
            peftType: ADAPTION_PROMPT_PEFT_TYPE,
            supported: ['ScaledDotProductAttention (rotary, separate q/k/v)'],
          });
        }
        const configured = typeof modelConfig?.hidden_size === 'number' ? modelConfig.hidden_size : undefined;
        const hiddenSize = configured ?? context.architecture?.hiddenSize ?? inputSize(projections.kProj);
        if (hiddenSize === undefined) throw new InvalidConfigError(`ADAPTION_PROMPT: cannot tell the hidden size of "${modulePath}"`, { field: 'hidden_size' });
        selected.set(core.path, { kind: 'attention', modulePath, projections, hiddenSize });
        if (hasBias(projections.oProj)) selected.set(`${modulePath}.${entry.oProjLayer}`, { kind: 'output' });
      }
      roles.set(config, selected);
      return [...selected.keys()];
    },

    createLayer(baseLayer, context) {
      const role = roleOf(context);
      const layer = role.kind === 'attention' ? new AdaptedAttention({ baseLayer, projections: role.projections }) : new AdaptedOutputProjection({ baseLayer });
      addTo(layer, role, context);
      return layer;
    },

    updateLayer(layer, context) {
      addTo(layer, roleOf(context), context);
    },
  };
}

/** The adaption-prompt tuner: `registerTuner(adaptionPrompt)`. */
export const adaptionPrompt: TunerV1<AdaptionPromptConfig> = createAdaptionPrompt();
