import * as tf from '@tensorflow/tfjs-core';
import { AdapterFormatError, warn, type AdapterLayerEntry, type AdapterStateDictFormat } from '@peftjs/core';
import { PrefixAttention } from './prefix-attention-layer';
import { PromptEmbedding } from './prompt-embedding-layer';
import type { PromptSource } from './prompt-source';

/** PEFT's key for every prompt-learning adapter: one tensor, no `base_model.` prefix. */
export const PROMPT_EMBEDDINGS_KEY = 'prompt_embeddings';

/** The layer that holds an adapter's virtual tokens: the prompt embedding, or the first prefix attention. */
export function promptSourceOf(layers: readonly AdapterLayerEntry[], adapterName: string): PromptSource {
  for (const { layer } of layers) {
    if (!layer.hasAdapter(adapterName)) continue;
    if (layer instanceof PromptEmbedding) return layer.promptSource(adapterName);
    if (layer instanceof PrefixAttention && layer.ownsSource(adapterName)) return layer.promptSource(adapterName);
  }
  throw new AdapterFormatError(`the model holds no virtual tokens for adapter "${adapterName}"`);
}

/**
 * PEFT's prompt-learning save format: `prompt_embeddings` — the virtual-token embedding for
 * prompt tuning `[nvt·submodules, token_dim]`, the encoder OUTPUT for P-tuning (and for prefix
 * tuning with a projection), `[nvt, num_layers·2·token_dim]` for prefix tuning.
 */
export const promptStateDictFormat: AdapterStateDictFormat = {
  shapes(layers, adapterName) {
    return { [PROMPT_EMBEDDINGS_KEY]: [...promptSourceOf(layers, adapterName).shape] };
  },
  save(layers, adapterName) {
    const source = promptSourceOf(layers, adapterName);
    return { [PROMPT_EMBEDDINGS_KEY]: tf.tidy(() => source.output(false).clone()) };
  },
  load(layers, adapterName, tensors) {
    const source = promptSourceOf(layers, adapterName);
    const value = tensors[PROMPT_EMBEDDINGS_KEY];
    if (!value) {
      throw new AdapterFormatError(`adapter "${adapterName}" is missing the tensor "${PROMPT_EMBEDDINGS_KEY}" (prompt-learning adapters hold that one tensor); it has: ${Object.keys(tensors).join(', ') || 'nothing'}`, {
        tensorName: PROMPT_EMBEDDINGS_KEY,
      });
    }
    const expected = source.shape;
    if (value.rank !== 2 || value.shape[0] !== expected[0] || value.shape[1] !== expected[1]) {
      throw new AdapterFormatError(`tensor "${PROMPT_EMBEDDINGS_KEY}" has shape [${value.shape.join(', ')}]; the model expects [${expected.join(', ')}]`, { tensorName: PROMPT_EMBEDDINGS_KEY });
    }
    const unexpected = Object.keys(tensors).filter((key) => key !== PROMPT_EMBEDDINGS_KEY);
    if (unexpected.length > 0) warn(`adapter "${adapterName}" has ${unexpected.length} tensor(s) the model does not use: ${unexpected.slice(0, 8).join(', ')}`);
    const converted = value.dtype === 'float32' ? value : tf.cast(value, 'float32');
    try {
      source.load(converted);
    } finally {
      if (converted !== value) converted.dispose();
    }
  },
};
