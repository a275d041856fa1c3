import { InvalidConfigError } from '../errors';
import { editDistance } from '../util/strings';

/** The targeting fields every layer tuner's config shares (PEFT's names). */
export interface TargetingFields {
  targetModules: string | string[] | null;
  layersToTransform?: number | number[] | null;
  layersPattern?: string | string[] | null;
  modulesToSave?: string[] | null;
}

const regexCache = new Map<string, RegExp>();

/** Python's `re.fullmatch(pattern, text)`. */
export function fullMatch(pattern: string, text: string, field = 'target_modules'): boolean {
  let regex = regexCache.get(pattern);
  if (!regex) {
    try {
      regex = new RegExp(`^(?:${pattern})$`);
    } catch (error) {
      throw new InvalidConfigError(`${field} ${JSON.stringify(pattern)} is not a valid regular expression: ${(error as Error).message}`, { field, cause: error });
    }
    regexCache.set(pattern, regex);
  }
  return regex.test(text);
}

/** A list entry matches the whole path or its last dotted segments; a string is a full-match regex. */
export function matchesTargetModules(path: string, targetModules: string | readonly string[]): boolean {
  if (typeof targetModules === 'string') return fullMatch(targetModules, path);
  return targetModules.some((target) => path === target || path.endsWith(`.${target}`));
}

/** The layer index in a path, found as PEFT finds it (`.*\.<pattern>\.(\d+)\.`), or undefined. */
export function layerIndexOf(path: string, layersPattern: string | readonly string[] | null | undefined): number | undefined {
  const patterns = (layersPattern === null || layersPattern === undefined ? [] : typeof layersPattern === 'string' ? [layersPattern] : [...layersPattern]).filter(
    (pattern) => pattern !== '',
  );
  const candidates = patterns.length === 0 ? ['[^.]*'] : patterns;
  for (const pattern of candidates) {
    let regex: RegExp;
    try {
      regex = new RegExp(`^.*\\.${pattern}\\.(\\d+)\\.`);
    } catch (error) {
      throw new InvalidConfigError(`layers_pattern ${JSON.stringify(pattern)} is not a valid regular expression`, { field: 'layers_pattern', cause: error });
    }
    const match = regex.exec(path);
    if (match) return Number.parseInt(match[1]!, 10);
  }
  return undefined;
}

/** PEFT's check_target_module_exists: target match, then the layer-index filter. */
export function isTargeted(path: string, config: TargetingFields): boolean {
  if (config.targetModules === null) return false;
  if (!matchesTargetModules(path, config.targetModules)) return false;
  const indices = config.layersToTransform;
  const usesIndices = indices !== null && indices !== undefined && !(Array.isArray(indices) && indices.length === 0);
  if (!usesIndices || typeof config.targetModules === 'string') return true;
  const index = layerIndexOf(path, config.layersPattern);
  if (index === undefined) return false;
  return typeof indices === 'number' ? index === indices : (indices as number[]).includes(index);
}

/** PEFT matches modules_to_save by `path.endswith(name)`, with no dot boundary. */
export function matchesModulesToSave(path: string, modulesToSave: readonly string[] | null | undefined): boolean {
  return !!modulesToSave && modulesToSave.some((name) => path.endsWith(name));
}

/** Refuses what PEFT refuses: layers_to_transform / layers_pattern with a regex string target. */
export function checkTargetingFields(config: TargetingFields): void {
  const indices = config.layersToTransform;
  const usesIndices = indices !== null && indices !== undefined && !(Array.isArray(indices) && indices.length === 0);
  if (typeof config.targetModules === 'string' && (usesIndices || (config.layersPattern !== null && config.layersPattern !== undefined))) {
    throw new InvalidConfigError('layers_to_transform and layers_pattern apply only to a list of target_modules, not to a regex string', {
      field: 'layers_to_transform',
    });
  }
}

/** Leaf names of the paths closest to `name`, with how often each occurs: `q_proj (×2)`. */
export function closestLayerNames(name: string, paths: readonly string[], limit = 5): string[] {
  const counts = new Map<string, number>();
  for (const path of paths) {
    const leaf = path.slice(path.lastIndexOf('.') + 1);
    counts.set(leaf, (counts.get(leaf) ?? 0) + 1);
  }
  const probe = name.slice(name.lastIndexOf('.') + 1);
  return [...counts.entries()]
    .map(([leaf, count]) => ({ leaf, count, distance: editDistance(probe.toLowerCase(), leaf.toLowerCase()) }))
    .sort((a, b) => a.distance - b.distance || a.leaf.localeCompare(b.leaf))
    .slice(0, limit)
    .map(({ leaf, count }) => (count > 1 ? `${leaf} (×${count})` : leaf));
}
