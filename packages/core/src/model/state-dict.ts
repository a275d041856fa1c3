import * as tf from '@tensorflow/tfjs-core';
import { AdapterFormatError } from '../errors';
import type { ParamRef } from '../spec/param-ref';
import { warn } from '../util/warn';

export const PEFT_KEY_PREFIX = 'base_model.model.';

function hasSegment(name: string, segment: string): boolean {
  return name.split('.').includes(segment);
}

function dropSegment(name: string, segment: string): string {
  return name
    .split('.')
    .filter((part) => part !== segment)
    .join('.');
}

/**
 * An adapter parameter's name without the `base_layer.` steps that nesting adds in a mixed model
 * (`lin1.base_layer.<prefix>A.x.weight` → `lin1.<prefix>A.x.weight`), so each adapter saves and loads
 * under the keys an ordinary PeftModel with that one adapter uses.
 */
export function unnestedName(name: string): string {
  return dropSegment(name, 'base_layer');
}

export interface StateDictSpec {
  weightPrefix: string;
  adapterName: string;
  /** Parameters outside the adapter's own that are saved with it (a tuner's `savedParameters`). */
  extraParameters: ReadonlySet<string>;
  modulesToSavePaths: readonly string[];
}

/**
 * PEFT's get_peft_model_state_dict for layer tuners: the adapter's parameters (plus the tuner's
 * extra saved parameters, plus modules_to_save copies under the original names), keyed as Python saves them.
 * Adapter names are matched as whole name segments (PEFT 0.11.1 uses a substring test, which
 * drags other adapters' tensors in when one name contains another).
 */
export function selectStateDictParams(params: ReadonlyMap<string, ParamRef>, spec: StateDictSpec): Map<string, { source: string; param: ParamRef }> {
  const { weightPrefix, adapterName, extraParameters } = spec;
  const selected = new Map<string, { source: string; param: ParamRef }>();
  const names = [...params.keys()];
  const keys = names.filter((name) => name.includes(weightPrefix) || extraParameters.has(name));
  for (const name of keys) {
    const ofAdapter = name.includes(weightPrefix) ? hasSegment(name, adapterName) : true;
    if (!ofAdapter) continue;
    if (name.includes('modules_to_save.')) continue;
    selected.set(PEFT_KEY_PREFIX + (name.includes(weightPrefix) ? unnestedName(dropSegment(name, adapterName)) : name), { source: name, param: params.get(name)! });
  }
  for (const path of spec.modulesToSavePaths) {
    const copyPrefix = `${path}.modules_to_save.${adapterName}.`;
    for (const name of names) {
      if (name.startsWith(copyPrefix)) selected.set(`${PEFT_KEY_PREFIX}${path}.${name.slice(copyPrefix.length)}`, { source: name, param: params.get(name)! });
    }
  }
  return selected;
}

/** Reads the selected parameters in torch layout (async reads only; the caller owns the tensors). */
export function stateDictTensors(selected: ReadonlyMap<string, { param: ParamRef }>): Record<string, tf.Tensor> {
  const result: Record<string, tf.Tensor> = {};
  for (const [key, { param }] of selected) result[key] = tf.tidy(() => param.toTorch(param.variable.read()));
  return result;
}

/** PEFT's set_peft_model_state_dict key mapping: a saved key → the in-memory parameter name. */
export function savedKeyToParamName(key: string, spec: StateDictSpec): string | undefined {
  if (!key.startsWith(PEFT_KEY_PREFIX)) return undefined;
  let name = key.slice(PEFT_KEY_PREFIX.length);
  for (const path of spec.modulesToSavePaths) {
    if (name.startsWith(`${path}.`) && !name.includes(spec.weightPrefix)) {
      return `${path}.modules_to_save.${spec.adapterName}.${name.slice(path.length + 1)}`;
    }
  }
  if (name.includes(spec.weightPrefix)) {
    const [head, ...rest] = name.split(spec.weightPrefix);
    const suffix = rest.join(spec.weightPrefix);
    const dot = suffix.indexOf('.');
    name = dot >= 0 ? `${head}${spec.weightPrefix}${suffix.slice(0, dot)}.${spec.adapterName}${suffix.slice(dot)}` : `${name}.${spec.adapterName}`;
  }
  return name;
}

export interface LoadPlan {
  writes: Array<{ key: string; param: ParamRef; value: tf.Tensor }>;
  unexpected: string[];
}

/**
 * Checks saved tensors against the adapter's parameters before anything is written: every
 * expected parameter must be there with its torch shape. Unexpected keys are reported.
 */
export function planStateDictLoad(
  tensors: Readonly<Record<string, tf.Tensor>>,
  params: ReadonlyMap<string, ParamRef>,
  expected: ReadonlyMap<string, ParamRef>,
  spec: StateDictSpec,
): LoadPlan {
  const writes: LoadPlan['writes'] = [];
  const unexpected: string[] = [];
  const found = new Set<string>();
  for (const [key, value] of Object.entries(tensors)) {
    const name = savedKeyToParamName(key, spec);
    const param = name === undefined ? undefined : (expected.get(name) ?? params.get(name));
    if (!param || name === undefined) {
      unexpected.push(key);
      continue;
    }
    const shape = param.torchShape;
    if (value.shape.length !== shape.length || value.shape.some((size, index) => size !== shape[index])) {
      throw new AdapterFormatError(`tensor "${key}" has shape [${value.shape.join(', ')}]; the model expects [${shape.join(', ')}]`, { tensorName: key });
    }
    found.add(name);
    writes.push({ key, param, value });
  }
  const missing = [...expected.keys()].filter((name) => !found.has(name));
  if (missing.length > 0) {
    const shown = missing.slice(0, 8).join(', ');
    throw new AdapterFormatError(`adapter "${spec.adapterName}" is missing ${missing.length} tensor(s) the model expects: ${shown}${missing.length > 8 ? ', …' : ''}`, {
      tensorName: missing[0],
    });
  }
  if (unexpected.length > 0) warn(`adapter "${spec.adapterName}" has ${unexpected.length} tensor(s) the model does not use: ${unexpected.slice(0, 8).join(', ')}`);
  return { writes, unexpected };
}

/** Writes a checked plan: converted to the tfjs layout, then assigned. */
export function applyLoadPlan(plan: LoadPlan): void {
  const converted = plan.writes.map(({ param, value }) => tf.tidy(() => param.fromTorch(value.dtype === 'float32' ? value : tf.cast(value, 'float32'))));
  plan.writes.forEach(({ param }, index) => {
    param.variable.write(converted[index]!);
    converted[index]!.dispose();
  });
}
