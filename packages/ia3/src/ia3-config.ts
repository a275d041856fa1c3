import { defineConfigSchema, fields, InvalidConfigError, type ConfigOptions } from '@peftjs/core';

export const IA3_PEFT_TYPE = 'IA3';

function asSet(value: string | string[] | null): Set<string> | null {
  return Array.isArray(value) ? new Set(value) : null;
}

/** PEFT refuses feed-forward modules that are not targets (when both are lists). */
export function checkFeedforwardSubset(targetModules: string | string[] | null, feedforwardModules: string | string[] | null): void {
  const targets = asSet(targetModules);
  const feedforward = asSet(feedforwardModules);
  if (!targets || !feedforward) return;
  const extra = [...feedforward].filter((name) => !targets.has(name));
  if (extra.length > 0) {
    throw new InvalidConfigError(`feedforward_modules must be a subset of target_modules; not targets: ${extra.join(', ')} (target_modules: ${[...targets].join(', ')})`, {
      field: 'feedforward_modules',
    });
  }
}

/** IA3Config of PEFT 0.11.1: every field and default. */
export const ia3ConfigSchema = defineConfigSchema({
  peftType: IA3_PEFT_TYPE,
  fields: {
    target_modules: fields.targets(null),
    feedforward_modules: fields.targets(null),
    fan_in_fan_out: fields.boolean(false),
    modules_to_save: fields.nullableStringList(null),
    init_ia3_weights: fields.boolean(true),
  },
  check: (config) => checkFeedforwardSubset(config.targetModules, config.feedforwardModules),
  help: {
    target_modules: "layers to scale; null for the model type's defaults",
    feedforward_modules: 'the targets whose input is scaled (a subset of the targets); null for the defaults',
    fan_in_fan_out: "as LoRA (GPT-2's Conv1D)",
    modules_to_save: 'layers trained in full and saved with the adapter',
    init_ia3_weights: 'start at 1 (the identity); false for random',
  },
});

export type IA3Config = ReturnType<typeof ia3ConfigSchema.parse>;
/** What `createIA3Config` takes: any IA3Config field in camelCase, derived from the schema. */
export type IA3ConfigOptions = ConfigOptions<IA3Config>;

/** An IA3 config from camelCase options (or PEFT's snake_case JSON), every default filled in. */
export function createIA3Config(options: IA3ConfigOptions | Record<string, unknown> = {}): IA3Config {
  return ia3ConfigSchema.parse({ ...options, peftType: IA3_PEFT_TYPE });
}

/** PEFT's _check_target_module_feedforward: a regex string full-matches; a list entry is a plain suffix (no dot boundary). */
export function isFeedforward(path: string, feedforwardModules: string | string[] | null): boolean {
  if (feedforwardModules === null) return false;
  if (typeof feedforwardModules === 'string') return new RegExp(`^(?:${feedforwardModules})$`).test(path);
  return feedforwardModules.some((name) => path.endsWith(name));
}
