import type { LayersModel, ModelCompileArgs } from '@tensorflow/tfjs-layers';

/**
 * `model.compile(args)`, then lets `fit()` / `evaluate()` take transformers-style labels whose
 * shape differs from the output's: token ids `[batch, seq]` for logits `[batch, seq, vocab]`
 * (causalLmLoss, tokenClassificationLoss), class ids `[batch]` for `[batch, num_labels]`.
 * tfjs checks targets against the output shape unless the loss is its own sparse cross-entropy;
 * this clears that check (the loss functions here check shapes themselves).
 */
export function compileForLabels(model: LayersModel, args: ModelCompileArgs): void {
  model.compile(args);
  const internals = model as unknown as { feedOutputShapes?: unknown[] };
  if (Array.isArray(internals.feedOutputShapes)) internals.feedOutputShapes = internals.feedOutputShapes.map(() => null);
}
