import { SHARED_DEFAULT_TARGETS, targetModulesTable, type TargetDefaults } from '@peftjs/core';

/** Left out of VeRA's table: their q/v projections differ in shape, which VeRA's single shared pair cannot serve. */
const DIFFERENT_SHAPES = new Set(['btlm', 'mistral', 'mixtral', 'gemma']);

/**
 * PEFT 0.11.1's TRANSFORMERS_MODELS_TO_VERA_TARGET_MODULES_MAPPING: the shared table (LoRA's)
 * without btlm, mistral, mixtral and gemma, and phi without fc1 / fc2.
 */
export const VERA_DEFAULT_TARGETS: Readonly<Record<string, TargetDefaults>> = targetModulesTable({
  ...Object.fromEntries(
    Object.entries(SHARED_DEFAULT_TARGETS)
      .filter(([modelType]) => !DIFFERENT_SHAPES.has(modelType))
      .map(([modelType, defaults]) => [modelType, defaults.targetModules]),
  ),
  phi: ['q_proj', 'v_proj'],
});
