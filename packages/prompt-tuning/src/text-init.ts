import { InvalidConfigError } from '@peftjs/core';
import type { layers } from '@tensorflow/tfjs-layers';
import { attachedTokenizer, textInitTokenIds } from './prompt-tokenizer';

/** The fields TEXT initialisation reads (prompt tuning and multitask prompt tuning). */
interface TextInitConfig {
  promptTuningInit: string;
  promptTuningInitText: string | null;
  tokenizerNameOrPath: string | null;
  inferenceMode: boolean;
}

/**
 * PEFT's TEXT init: the ids whose word embeddings start the virtual-token table, or null for
 * random init. Only for training: a loaded adapter brings its own values. `attachedTo` is the
 * config object that carries the tokenizer (given to the config factory).
 */
export function textInitIds(config: TextInitConfig, attachedTo: object, baseLayer: layers.Layer, total: number): number[] | null {
  if (config.promptTuningInit !== 'TEXT' || config.inferenceMode) return null;
  const tokenizer = attachedTokenizer(attachedTo);
  if (!tokenizer) {
    throw new InvalidConfigError(
      `prompt_tuning_init 'TEXT' needs a tokenizer for ${JSON.stringify(config.tokenizerNameOrPath)}: pass { tokenizer } to the config factory (e.g. await AutoTokenizer.fromPretrained(...) from @peftjs/models)`,
      { field: 'tokenizer_name_or_path' },
    );
  }
  if (config.promptTuningInitText === null)
    throw new InvalidConfigError(`When prompt_tuning_init='TEXT', prompt_tuning_init_text can't be null`, { field: 'prompt_tuning_init_text' });
  const ids = textInitTokenIds(tokenizer, config.promptTuningInitText, total);
  const tokenEmbedding = (baseLayer as unknown as { embeddingLayer?: unknown }).embeddingLayer ?? baseLayer;
  const vocab = (tokenEmbedding as { inputDim?: number }).inputDim;
  const outside = ids.find((id) => vocab !== undefined && id >= vocab);
  if (outside !== undefined) {
    throw new InvalidConfigError(`prompt_tuning_init_text encodes to token id ${outside}, outside the model's vocabulary of ${vocab}`, { field: 'prompt_tuning_init_text' });
  }
  return ids;
}
