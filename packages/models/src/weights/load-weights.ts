import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { namedParameters, warn, type ParamRef } from '@peftjs/core';
import { ModelLoadError } from '../errors';
import type { WeightSource } from './weight-source';
import { FrozenWeightVariable } from '../frozen/frozen-weight-variable';

export interface LoadWeightsOptions {
  /**
   * The base-model prefix (`transformer`, `model`, `bert`): a checkpoint saved from the bare
   * model has keys without it, one saved from a model with a head has keys with it.
   */
  basePrefix?: string;
  /** Checkpoint keys that are expected to have no parameter here (buffers, tied heads). */
  ignoreUnexpected?: readonly RegExp[];
  /** Parameters that keep their fresh initialisation when the checkpoint lacks them (new task heads), with a warning. */
  newlyInitialized?: readonly RegExp[];
}

export interface LoadWeightsReport {
  /** Parameter name → checkpoint key it was loaded from. */
  loaded: Map<string, string>;
  /** Parameters left at their initialisation (allowed by `newlyInitialized`). */
  newlyInitialized: string[];
  /** Checkpoint keys no parameter used (and not ignored). */
  unexpected: string[];
}

function candidates(name: string, basePrefix: string | undefined): string[] {
  if (!basePrefix) return [name];
  const prefix = `${basePrefix}.`;
  return name.startsWith(prefix) ? [name, name.slice(prefix.length)] : [name, prefix + name];
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((size, index) => size === b[index]);
}

/**
 * Copies checkpoint tensors (torch names and layouts) into a model's variables, through the
 * torch naming core gives every parameter (`namedParameters`). Names, shapes and dtypes are all
 * checked before anything is written: a missing or mis-shaped tensor throws a ModelLoadError
 * naming it, and the model is left as it was.
 */
export async function loadWeights(model: LayersModel, source: WeightSource, options: LoadWeightsOptions = {}): Promise<LoadWeightsReport> {
  const params = namedParameters(model);
  const available = new Set(source.names);
  const plan: Array<{ name: string; key: string; param: ParamRef }> = [];
  const newlyInitialized: string[] = [];
  const missing: string[] = [];
  const stored: Array<{ name: string; key: string }> = [];
  for (const [name, param] of params) {
    const key = candidates(name, options.basePrefix).find((candidate) => available.has(candidate));
    // Weights built over a frozen-weight store were read from the checkpoint as the model was built.
    if (FrozenWeightVariable.isFrozenWeightVariable(param.variable) && key !== undefined) {
      stored.push({ name, key });
      continue;
    }
    if (key === undefined) {
      if (options.newlyInitialized?.some((pattern) => pattern.test(name))) newlyInitialized.push(name);
      else missing.push(name);
      continue;
    }
    const shape = source.shape(key);
    if (!sameShape(shape, param.torchShape)) {
      throw new ModelLoadError(`weight "${key}" in ${source.label} has shape [${shape.join(', ')}], but the model expects [${param.torchShape.join(', ')}] (check config.json)`, {
        problem: 'weight-shape',
        tensorName: key,
        path: source.label,
      });
    }
    const dtype = source.dtype(key);
    if (!/^(F16|BF16|F32|F64)$/.test(dtype)) {
      throw new ModelLoadError(`weight "${key}" in ${source.label} is ${dtype}; a floating-point tensor (F32, F16, BF16) is expected`, {
        problem: 'weight-dtype',
        tensorName: key,
        path: source.label,
      });
    }
    plan.push({ name, key, param });
  }
  if (missing.length > 0) {
    const shown = missing
      .slice(0, 8)
      .map((name) => `"${name}"`)
      .join(', ');
    throw new ModelLoadError(`${source.label} lacks ${missing.length} weight(s) the model needs: ${shown}${missing.length > 8 ? ', …' : ''}`, {
      problem: 'missing-weight',
      tensorName: missing[0],
      path: source.label,
    });
  }
  const used = new Set([...plan, ...stored].map((entry) => entry.key));
  const unexpected = source.names.filter((name) => !used.has(name) && !options.ignoreUnexpected?.some((pattern) => pattern.test(name)));

  // Names and shapes were all checked above; now stream one tensor at a time to keep the peak
  // memory near one copy of the model. A read error can leave a fresh model partly loaded: the
  // loaders in this package build a new model per call and dispose it on error.
  for (const { param, key } of plan) {
    const raw = await source.read(key);
    try {
      const value = tf.tidy(() => param.fromTorch(raw.dtype === 'float32' ? raw : tf.cast(raw, 'float32')));
      param.variable.write(value);
      value.dispose();
    } finally {
      raw.dispose();
    }
  }

  if (newlyInitialized.length > 0) {
    warn(`some weights were not in ${source.label} and are newly initialized: ${newlyInitialized.join(', ')}; train the model before using it for predictions`);
  }
  if (unexpected.length > 0) {
    warn(`${unexpected.length} tensor(s) in ${source.label} were not used: ${unexpected.slice(0, 8).join(', ')}${unexpected.length > 8 ? ', …' : ''}`);
  }
  return { loaded: new Map([...plan, ...stored].map(({ name, key }) => [name, key])), newlyInitialized, unexpected };
}
