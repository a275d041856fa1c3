import type { ArchitectureConfig } from '../registry/model-registry';
import type { TargetDefaults } from '../spec/tuner-v1';

/**
 * The attention's query and value projections of a registered architecture (or its fused q/k/v
 * projection): the default targets of the methods whose PEFT tables name q and v.
 */
export function queryValueTargets(architecture: ArchitectureConfig): TargetDefaults | undefined {
  const { query, value, queryKeyValue } = architecture.roles;
  if (query && value) return { targetModules: [query, value] };
  if (queryKeyValue) return { targetModules: [queryKeyValue] };
  return undefined;
}
