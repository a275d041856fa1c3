import type { layers } from '@tensorflow/tfjs-layers';
import { getLayerFormat, isLinearLayerClass, SHARED_DEFAULT_TARGETS, type ArchitectureConfig, type TargetDefaults, type TunerV1 } from '@peftjs/core';
import { POLY_PEFT_TYPE, polyConfigSchema, type PolyConfig } from './poly-config';
import { PolyDense, type PolyAdapterOptions } from './poly-layer';

/** The prefix that marks Poly weights in PEFT's key names. */
export const POLY_WEIGHT_PREFIX = 'poly_';

/** Options for a Poly tuner instance. */
export interface PolySettings {
  /** Default targets per model type, on top of (and overriding) PEFT 0.11.1's table (LoRA's). */
  defaultTargets?: Readonly<Record<string, TargetDefaults>>;
}

/** PEFT wraps torch Linear only: a Dense-like layer with a transposed torch weight and no activation (not GPT-2's Conv1D). */
function isTorchLinear(layer: layers.Layer): boolean {
  const className = layer.getClassName();
  if (!isLinearLayerClass(className)) return false;
  const activation = (layer as unknown as { activation?: { getClassName?(): string } | null }).activation;
  if (activation && activation.getClassName?.() !== 'linear') return false;
  if (className === 'Dense') return true;
  const rule = Object.values(getLayerFormat(className)?.weights ?? {}).find((entry) => entry.torchName === 'weight');
  return rule?.toTorchPermutation !== undefined && rule.toTorchPermutation.length === 2;
}

function adapterOptions(config: PolyConfig): PolyAdapterOptions {
  return { r: config.r, nTasks: config.nTasks, nSkills: config.nSkills, nSplits: config.nSplits, initWeights: config.initWeights };
}

/** Builds a Poly tuner; `poly` is the ready default instance. */
export function createPoly(settings: PolySettings = {}): TunerV1<PolyConfig> {
  return {
    specificationVersion: 'v1',
    peftType: POLY_PEFT_TYPE,
    weightPrefix: POLY_WEIGHT_PREFIX,
    packageName: '@peftjs/poly',
    layers: [PolyDense],
    supportedLayerClasses: ['Dense (no activation)', 'and linear classes with a torch Linear layout (not GPT-2 Conv1D)'],
    // PEFT 0.11.1's PolyModel reads the LoRA table, which PEFT shares between methods.
    defaultTargets: { ...SHARED_DEFAULT_TARGETS, ...(settings.defaultTargets ?? {}) },
    canAdapt: isTorchLinear,
    configFields: polyConfigSchema.fields,
    parseConfig: (raw) => polyConfigSchema.parse(raw),
    serializeConfig: (config) => polyConfigSchema.serialize(config),
    defaultTargetsForArchitecture(architecture: ArchitectureConfig): TargetDefaults | undefined {
      const { query, value } = architecture.roles;
      return query && value ? { targetModules: [query, value] } : undefined;
    },
    createLayer(baseLayer, context) {
      const layer = new PolyDense({ baseLayer });
      layer.addAdapter(context.adapterName, adapterOptions(context.config));
      return layer;
    },
    updateLayer(layer, context) {
      layer.addAdapter(context.adapterName, adapterOptions(context.config));
    },
  };
}

/** The Poly tuner with PEFT 0.11.1's defaults: `registerTuner(poly)`. */
export const poly: TunerV1<PolyConfig> = createPoly();
