import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { listTuners, registerTuner, snakeToCamel, type ConfigFieldInfo, type TunerV1 } from '@peftjs/core';
import * as loraPackage from '@peftjs/lora';
import * as ia3Package from '@peftjs/ia3';
import * as promptTuningPackage from '@peftjs/prompt-tuning';
import * as lohaPackage from '@peftjs/loha';
import * as lokrPackage from '@peftjs/lokr';
import * as adaloraPackage from '@peftjs/adalora';
import * as lnTuningPackage from '@peftjs/ln-tuning';
import * as polyPackage from '@peftjs/poly';
import * as adaptionPromptPackage from '@peftjs/adaption-prompt';
import * as oftPackage from '@peftjs/oft';
import * as boftPackage from '@peftjs/boft';
import * as veraPackage from '@peftjs/vera';
import { UsageError } from './usage-error';

function isTuner(value: unknown): value is TunerV1<any> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { specificationVersion?: unknown }).specificationVersion === 'string' &&
    typeof (value as { peftType?: unknown }).peftType === 'string' &&
    typeof (value as { parseConfig?: unknown }).parseConfig === 'function'
  );
}

/** Registers every tuner object a module exports (method packages export ready tuners: `lora`, `ia3`, …). */
export function registerTunersFrom(moduleExports: Record<string, unknown>): string[] {
  const registered: string[] = [];
  for (const value of Object.values(moduleExports)) {
    if (!isTuner(value)) continue;
    registerTuner(value);
    registered.push(value.peftType);
  }
  return registered;
}

let builtinsRegistered = false;

/**
 * Registers the tuners of the method packages the CLI ships with. New methods in those packages
 * (and third-party ones loaded with `--plugin`) appear in `--method` without CLI changes.
 */
export function registerBuiltinTuners(): void {
  if (builtinsRegistered) return;
  for (const moduleExports of [loraPackage, ia3Package, promptTuningPackage, lohaPackage, lokrPackage] as Record<string, unknown>[]) registerTunersFrom(moduleExports);
  for (const moduleExports of [adaloraPackage, lnTuningPackage, polyPackage, adaptionPromptPackage, oftPackage, boftPackage, veraPackage] as Record<string, unknown>[])
    registerTunersFrom(moduleExports);
  builtinsRegistered = true;
}

/**
 * A plugin written in TypeScript runs through tsx when the project has it (as `tsx` would run
 * it); compiled JavaScript needs nothing. tsx is looked up from the working directory, so the
 * user's own install is used.
 */
async function registerTypeScriptLoader(specifier: string): Promise<void> {
  let api: string;
  try {
    api = createRequire(pathToFileURL(`${process.cwd()}/`).href).resolve('tsx/esm/api');
  } catch {
    throw new UsageError(`plugin "${specifier}" is TypeScript: install tsx in this project (npm install -D tsx) or compile the plugin to JavaScript`);
  }
  const { register } = (await import(pathToFileURL(api).href)) as { register(options?: { tsconfig?: false }): unknown };
  // Without the repository's tsconfig paths, the plugin's @peftjs imports resolve to the same packages the CLI runs.
  register({ tsconfig: false });
}

/** Imports a plugin module (package name or file path) and registers the tuners it exports. */
export async function loadPlugin(specifier: string): Promise<string[]> {
  const path = resolve(specifier);
  const target = existsSync(path) ? pathToFileURL(path).href : specifier;
  let moduleExports: Record<string, unknown>;
  if (existsSync(path) && /\.[cm]?tsx?$/.test(path)) await registerTypeScriptLoader(specifier);
  try {
    moduleExports = (await import(target)) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`cannot load plugin "${specifier}": ${(error as Error).message.split('\n')[0]}`, { cause: error });
  }
  const registered = registerTunersFrom(moduleExports);
  if (registered.length === 0) throw new UsageError(`plugin "${specifier}" exports no tuner (an object with specificationVersion, peftType and parseConfig)`);
  return registered;
}

/** `PROMPT_TUNING` → `prompt-tuning`: the --method name of a peft_type. */
export function methodName(peftType: string): string {
  return peftType.toLowerCase().replace(/_/g, '-');
}

export interface MethodInfo {
  name: string;
  peftType: string;
  tuner: TunerV1<any>;
  /** The method's own config fields (snake_case) with their defaults, as adapter_config.json writes them. */
  defaults: Record<string, unknown>;
  /** Fields the method needs a value for (shown as "required" in --help). */
  required: string[];
  /** The method's own config fields described as data (name, type, default, help). */
  fields: ConfigFieldInfo[];
}

/** Config keys every PEFT config has; they are set by the CLI, not by method flags. */
const COMMON_KEYS = new Set(['peft_type', 'task_type', 'inference_mode', 'base_model_name_or_path', 'revision', 'auto_mapping']);

/**
 * A tuner's own config fields, from its description (`TunerV1.configFields`, which
 * `defineConfigSchema` gives). A tuner without one: its defaults as serialised, typed by value.
 */
function methodFields(tuner: TunerV1<any>): ConfigFieldInfo[] {
  if (tuner.configFields) return tuner.configFields.filter((field) => !field.common);
  let serialized: Record<string, unknown>;
  try {
    serialized = tuner.serializeConfig(tuner.parseConfig({}));
  } catch {
    return [];
  }
  return Object.entries(serialized)
    .filter(([name]) => !COMMON_KEYS.has(name))
    .map(([name, defaultValue]) => ({
      name,
      property: snakeToCamel(name),
      type: typeof defaultValue === 'boolean' ? 'boolean' : typeof defaultValue === 'number' ? 'number' : typeof defaultValue === 'string' ? 'string' : 'json',
      defaultValue,
      required: false,
      help: '',
      common: false,
      refused: false,
    }));
}

/** Every registered tuner as a --method choice. */
export function listMethods(): MethodInfo[] {
  return listTuners().map((tuner) => {
    const fields = methodFields(tuner);
    const defaults = Object.fromEntries(fields.map((field) => [field.name, field.defaultValue]));
    const required = fields.filter((field) => field.required).map((field) => field.name);
    return { name: methodName(tuner.peftType), peftType: tuner.peftType, tuner, defaults, required, fields };
  });
}

export function findMethod(name: string): MethodInfo {
  const methods = listMethods();
  const wanted = name.trim().toLowerCase().replace(/_/g, '-');
  const found = methods.find((method) => method.name === wanted);
  if (!found) throw new UsageError(`unknown method "${name}"; registered methods: ${methods.map((method) => method.name).join(', ') || 'none'} (load others with --plugin)`);
  return found;
}

/** `lora_alpha` → `lora-alpha`, the flag of a config field. */
export function flagOf(key: string): string {
  return key.replace(/_/g, '-');
}

/** The camelCase property commander gives the value of `--lora-alpha` (core's one snake→camel conversion). */
export function attributeOf(key: string): string {
  return snakeToCamel(key);
}

/** Marks a field a method requires, in MethodFlag.defaults. */
export const REQUIRED = Symbol('required');

export interface MethodFlag {
  key: string;
  /** The methods that have this field, with their defaults. */
  defaults: Array<{ method: string; value: unknown }>;
  /** The field's help (the first method's that has one). */
  help: string;
  /** Whether every method that has the field takes true / false. */
  boolean: boolean;
}

/** The union of config fields over every registered method: one flag per field. */
export function methodFlags(): MethodFlag[] {
  const byKey = new Map<string, MethodFlag>();
  for (const method of listMethods()) {
    for (const field of method.fields) {
      const flag = byKey.get(field.name) ?? { key: field.name, defaults: [], help: '', boolean: true };
      flag.defaults.push({ method: method.name, value: field.required ? REQUIRED : field.defaultValue });
      if (!flag.help && field.help) flag.help = field.help;
      flag.boolean &&= field.type === 'boolean';
      byKey.set(field.name, flag);
    }
  }
  return [...byKey.values()];
}

const NUMBER = /^-?(\d+\.?\d*|\.\d+)(e-?\d+)?$/i;

/** Turns a flag's text into the value its config field takes, guided by the field's default. */
export function parseFieldValue(key: string, text: string | boolean, defaultValue: unknown): unknown {
  if (typeof text === 'boolean') return text;
  const value = text.trim();
  if (typeof defaultValue === 'boolean') {
    if (/^(true|1|yes|on)$/i.test(value)) return true;
    if (/^(false|0|no|off)$/i.test(value)) return false;
    // Some boolean fields also take a name (init_lora_weights: "gaussian", "pissa").
    return value;
  }
  if (typeof defaultValue === 'number') {
    if (!NUMBER.test(value)) throw new UsageError(`--${flagOf(key)} takes a number, got "${text}"`);
    return Number(value);
  }
  if (typeof defaultValue === 'string') return value;
  // null, lists and objects: JSON when it parses, else a comma-separated list.
  if (/^[[{"]|^(null|true|false)$/.test(value) || NUMBER.test(value)) {
    try {
      return JSON.parse(value);
    } catch {
      throw new UsageError(`--${flagOf(key)}: cannot parse ${JSON.stringify(text)} as JSON`);
    }
  }
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  const listLike = Array.isArray(defaultValue) || /modules|layers/.test(key);
  if (items.length === 1 && !listLike) return items[0];
  if (items.length === 1 && value === 'all-linear') return value;
  return items.map((item) => (NUMBER.test(item) ? Number(item) : item));
}
