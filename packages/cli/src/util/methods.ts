import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { listTuners, registerTuner, type TunerV1 } from '@peftjs/core';
import * as loraPackage from '@peftjs/lora';
import * as ia3Package from '@peftjs/ia3';
import * as promptTuningPackage from '@peftjs/prompt-tuning';
import * as lohaPackage from '@peftjs/loha';
import * as lokrPackage from '@peftjs/lokr';
import * as adaloraPackage from '@peftjs/adalora';
import * as lnTuningPackage from '@peftjs/ln-tuning';
import * as polyPackage from '@peftjs/poly';
import { UsageError } from './usage-error';

/** Config keys every PEFT config has; they are set by the CLI, not by method flags. */
const COMMON_KEYS = new Set(['peft_type', 'task_type', 'inference_mode', 'base_model_name_or_path', 'revision', 'auto_mapping']);

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
  for (const moduleExports of [adaloraPackage, lnTuningPackage, polyPackage] as Record<string, unknown>[]) registerTunersFrom(moduleExports);
  builtinsRegistered = true;
}

/** Imports a plugin module (package name or file path) and registers the tuners it exports. */
export async function loadPlugin(specifier: string): Promise<string[]> {
  const path = resolve(specifier);
  const target = existsSync(path) ? pathToFileURL(path).href : specifier;
  let moduleExports: Record<string, unknown>;
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
}

/** Every registered tuner as a --method choice. */
export function listMethods(): MethodInfo[] {
  return listTuners().map((tuner) => {
    let defaults: Record<string, unknown> = {};
    const required: string[] = [];
    // Fields without a default (prompt methods' num_virtual_tokens): the parser names the field it
    // misses; fill a placeholder and try again, and list the field as required.
    const placeholder: Record<string, unknown> = {};
    for (let attempt = 0; attempt < 8; attempt++) {
      try {
        const all = tuner.serializeConfig(tuner.parseConfig(placeholder));
        defaults = Object.fromEntries(Object.entries(all).filter(([key]) => !COMMON_KEYS.has(key)));
        break;
      } catch (error) {
        const field = (error as { field?: unknown }).field;
        if (typeof field !== 'string' || field in placeholder) break;
        placeholder[field] = 1;
        required.push(field);
      }
    }
    return { name: methodName(tuner.peftType), peftType: tuner.peftType, tuner, defaults, required };
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

/** The camelCase property commander gives the value of `--lora-alpha`. */
export function attributeOf(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, character: string) => character.toUpperCase());
}

/** Marks a field a method requires, in MethodFlag.defaults. */
export const REQUIRED = Symbol('required');

export interface MethodFlag {
  key: string;
  /** The methods that have this field, with their defaults. */
  defaults: Array<{ method: string; value: unknown }>;
}

/** The union of config fields over every registered method: one flag per field. */
export function methodFlags(): MethodFlag[] {
  const byKey = new Map<string, MethodFlag>();
  for (const method of listMethods()) {
    for (const [key, value] of Object.entries(method.defaults)) {
      const flag = byKey.get(key) ?? { key, defaults: [] };
      flag.defaults.push({ method: method.name, value: method.required.includes(key) ? REQUIRED : value });
      byKey.set(key, flag);
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
  const items = value.split(',').map((item) => item.trim()).filter((item) => item !== '');
  const listLike = Array.isArray(defaultValue) || /modules|layers/.test(key);
  if (items.length === 1 && !listLike) return items[0];
  if (items.length === 1 && value === 'all-linear') return value;
  return items.map((item) => (NUMBER.test(item) ? Number(item) : item));
}
