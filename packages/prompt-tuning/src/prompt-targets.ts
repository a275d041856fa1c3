import {
  getModelInfo,
  InvalidConfigError,
  isAttentionMaskLayer,
  isInputsEmbedsLayer,
  isKeyValueCacheLayer,
  isPositionIdsLayer,
  NoMatchingTargetError,
  TunerLayer,
  type ModelContext,
  type NamedLayer,
} from '@peftjs/core';
import type { layers } from '@tensorflow/tfjs-layers';

/** What a selected layer does for prompt learning. */
export type PromptTargetRole = { kind: 'embedding' } | { kind: 'mask' } | { kind: 'tokenTypes' } | { kind: 'positions' } | { kind: 'attention'; index: number };

/** The model's layers that prompt learning uses, by role. */
export interface PromptModelLayers {
  wordEmbedding: NamedLayer | undefined;
  /**
   * An encoder-decoder's encoder input embeddings (`encoder-inputs_embeds`): the token embedding
   * also feeds the decoder, so seq2seq prompt tuning prepends its virtual tokens here instead.
   */
  encoderInputsEmbeds: NamedLayer | undefined;
  masks: NamedLayer[];
  tokenTypes: NamedLayer[];
  positions: NamedLayer[];
  attention: NamedLayer[];
}

/** The layer a prompt layer wraps (a second adapter finds the wrapper in place). */
export function unwrapped(layer: layers.Layer): layers.Layer {
  return TunerLayer.isTunerLayer(layer) ? layer.baseLayer : layer;
}

function isEmbedding(layer: layers.Layer): boolean {
  return unwrapped(layer).getClassName() === 'Embedding';
}

function inputDim(layer: layers.Layer): number | undefined {
  return (unwrapped(layer) as unknown as { inputDim?: number }).inputDim;
}

export function outputDim(layer: layers.Layer): number | undefined {
  return (unwrapped(layer) as unknown as { outputDim?: number }).outputDim;
}

/**
 * PEFT's `word_embeddings`: the embedding the architecture names (`wte`, `embed_tokens`,
 * `word_embeddings`), else the first embedding with `vocab_size` rows (PEFT's own rule), else the
 * first embedding of the `input_ids` input.
 */
function findWordEmbedding(context: ModelContext, named: readonly NamedLayer[]): NamedLayer | undefined {
  const candidates = named.filter((entry) => !entry.isContainer && isEmbedding(entry.layer));
  const role = context.architecture?.roles.embedding;
  if (role) {
    const byRole = candidates.find((entry) => entry.path === role || entry.path.endsWith(`.${role}`));
    if (byRole) return byRole;
  }
  const vocabSize = getModelInfo(context.model).config?.vocab_size;
  if (typeof vocabSize === 'number') {
    const byVocab = candidates.find((entry) => inputDim(entry.layer) === vocabSize);
    if (byVocab) return byVocab;
  }
  return candidates.find((entry) => {
    const layer = unwrapped(entry.layer);
    return layer.inboundNodes.some((node) => node.inboundLayers.some((inbound) => inbound.getClassName() === 'InputLayer' && inbound.name === 'input_ids'));
  });
}

export function findPromptModelLayers(context: ModelContext, named: readonly NamedLayer[]): PromptModelLayers {
  const plain = named.filter((entry) => !entry.isContainer);
  return {
    wordEmbedding: findWordEmbedding(context, named),
    encoderInputsEmbeds: plain.find((entry) => isInputsEmbedsLayer(unwrapped(entry.layer))),
    masks: plain.filter((entry) => isAttentionMaskLayer(unwrapped(entry.layer))),
    tokenTypes: plain.filter((entry) => isEmbedding(entry.layer) && (entry.path === 'token_type_embeddings' || entry.path.endsWith('.token_type_embeddings'))),
    positions: plain.filter((entry) => isPositionIdsLayer(unwrapped(entry.layer))),
    attention: plain.filter((entry) => isKeyValueCacheLayer(unwrapped(entry.layer))),
  };
}

/** Targets of prompt tuning and P-tuning: the word embedding, the mask layers, BERT's token types. */
export function inputPromptTargets(peftType: string, found: PromptModelLayers, tokenDim: number): Map<string, PromptTargetRole> {
  if (!found.wordEmbedding) {
    throw new NoMatchingTargetError(
      `${peftType} found no word embedding in the model: register the architecture with roles.embedding (registerArchitecture), or give the model's config vocab_size`,
    );
  }
  const width = outputDim(found.wordEmbedding.layer);
  if (width !== undefined && width !== tokenDim) {
    throw new InvalidConfigError(`token_dim is ${tokenDim} but the word embedding "${found.wordEmbedding.path}" has ${width} dimensions`, { field: 'token_dim' });
  }
  // PEFT's PeftModelForSeq2SeqLM prepends the prompt to the encoder's inputs_embeds only.
  const embedding = found.encoderInputsEmbeds ?? found.wordEmbedding;
  const roles = new Map<string, PromptTargetRole>([[embedding.path, { kind: 'embedding' }]]);
  for (const entry of found.masks) roles.set(entry.path, { kind: 'mask' });
  for (const entry of found.tokenTypes) roles.set(entry.path, { kind: 'tokenTypes' });
  return roles;
}

/** Targets of prefix tuning: every attention core, the mask layers and the position ids. */
export function prefixTargets(
  peftType: string,
  found: PromptModelLayers,
  sizes: { numLayers: number; numAttentionHeads: number; tokenDim: number },
): Map<string, PromptTargetRole> {
  if (found.attention.length === 0) {
    throw new NoMatchingTargetError(
      `${peftType} found no attention layer that takes past keys/values; build the model with @peftjs/models, or give its attention cores the KeyValueCacheLayer contract`,
    );
  }
  if (found.attention.length !== sizes.numLayers) {
    throw new InvalidConfigError(`num_layers is ${sizes.numLayers} but the model has ${found.attention.length} attention layers`, { field: 'num_layers' });
  }
  const headDim = sizes.tokenDim / sizes.numAttentionHeads;
  for (const entry of found.attention) {
    const core = unwrapped(entry.layer) as unknown as { numKeyValueHeads: number; headDim: number };
    if (core.numKeyValueHeads !== sizes.numAttentionHeads || core.headDim !== headDim) {
      throw new InvalidConfigError(
        `attention layer "${entry.path}" keeps ${core.numKeyValueHeads} key/value heads of size ${core.headDim}, but the config's num_attention_heads ${sizes.numAttentionHeads} and token_dim ${sizes.tokenDim} give ${sizes.numAttentionHeads} heads of size ${headDim}`,
        { field: 'num_attention_heads' },
      );
    }
  }
  const roles = new Map<string, PromptTargetRole>();
  found.attention.forEach((entry, index) => roles.set(entry.path, { kind: 'attention', index }));
  for (const entry of found.masks) roles.set(entry.path, { kind: 'mask' });
  for (const entry of found.positions) roles.set(entry.path, { kind: 'positions' });
  return roles;
}
