import { SHARED_DEFAULT_TARGETS, type TargetDefaults } from '@peftjs/core';

/**
 * PEFT 0.11.1's BOFT default targets: the table PEFT shares with LoRA and Poly. Entries that name
 * GPT-2-style Conv1D layers (gpt2, gpt_bigcode, btlm) fail in PEFT too: BOFT wraps Linear and
 * Conv2d only.
 */
export const BOFT_DEFAULT_TARGETS: Readonly<Record<string, TargetDefaults>> = SHARED_DEFAULT_TARGETS;
