import { SHARED_DEFAULT_TARGETS, type TargetDefaults } from '@peftjs/core';

/** PEFT 0.11.1's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING: the table PEFT shares with BOFT and Poly. */
export const LORA_DEFAULT_TARGETS: Readonly<Record<string, TargetDefaults>> = SHARED_DEFAULT_TARGETS;
