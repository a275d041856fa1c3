import type { GenerationPlan, TunerGenerationHooks } from '@peftjs/core';
import { activePrompt } from './causal-lm';
import { withoutPromptInjection } from './prompt-injection';

/**
 * PEFT's `PeftModelForCausalLM.generate` for prompt learning, as hooks for the one decode loop
 * (@peftjs/models' `generate`): the virtual tokens (prompt tuning, P-tuning: input embeddings) or
 * key/value prefixes (prefix tuning: the cache's start) go in on the first step only; later steps
 * feed one token with the cache, which already holds them.
 */
export const promptGenerationHooks: TunerGenerationHooks = {
  plan(model): GenerationPlan | undefined {
    const { kind, numVirtualTokens } = activePrompt(model);
    if (kind === 'none') return undefined;
    return { kind: kind === 'input' ? 'embeddings' : 'cachePrefix', numVirtualTokens, laterStep: withoutPromptInjection };
  },
};
