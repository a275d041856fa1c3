import * as tf from '@tensorflow/tfjs-core';
import { InvalidConfigError, namedLayers, withForwardContext, type PeftModel } from '@peftjs/core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { PrefixAttention } from './prefix-attention-layer';
import { PromptEmbedding } from './prompt-embedding-layer';
import { PromptLearningLayer } from './prompt-learning-layer';

/** transformers' ignore index: labels of -100 are not scored. */
export const IGNORE_INDEX = -100;

/** How the active prompt adapter changes a forward pass. */
export interface ActivePrompt {
  /** 'input': virtual tokens prepended to the sequence (prompt tuning, P-tuning); 'prefix': past keys/values. */
  kind: 'input' | 'prefix' | 'none';
  /** 0 while adapters are disabled or none is active. */
  numVirtualTokens: number;
}

/** What the model's prompt layers will do in the next forward pass. */
export function activePrompt(model: PeftModel | LayersModel): ActivePrompt {
  const layersModel = 'baseModel' in model ? model.model : model;
  let kind: ActivePrompt['kind'] = 'none';
  let numVirtualTokens = 0;
  for (const { layer } of namedLayers(layersModel)) {
    if (!(layer instanceof PromptLearningLayer) || layer.activeVirtualTokens === 0) continue;
    numVirtualTokens = layer.activeVirtualTokens;
    if (layer instanceof PromptEmbedding) kind = 'input';
    else if (layer instanceof PrefixAttention && kind === 'none') kind = 'prefix';
  }
  return { kind: numVirtualTokens === 0 ? 'none' : kind, numVirtualTokens };
}

/** `labels` `[batch, seq]` with `numVirtualTokens` columns of -100 in front (PEFT's CausalLM prompt path). */
export function padLabels(labels: tf.Tensor, numVirtualTokens: number): tf.Tensor {
  return tf.tidy(() => {
    const ids = tf.cast(labels, 'int32');
    if (numVirtualTokens === 0) return ids;
    return tf.concat([tf.fill([ids.shape[0]!, numVirtualTokens], IGNORE_INDEX, 'int32'), ids], 1);
  });
}

/**
 * transformers' causal-LM loss: `logits[:, :-1]` scored against `labels[:, 1:]`, the mean over
 * labels that are not -100. Argument order `(labels, logits)`, as a tfjs `compile()` loss.
 */
export function causalLmLoss(labels: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const [batch, seq, vocab] = logits.shape as [number, number, number];
    if (labels.shape[0] !== batch || labels.shape[1] !== seq) {
      throw new InvalidConfigError(`labels have shape [${labels.shape.join(', ')}] but the logits [${logits.shape.join(', ')}]; pad them with padLabels()`, { field: 'labels' });
    }
    const flatLogits = tf.reshape(tf.slice(logits, [0, 0, 0], [batch, seq - 1, vocab]), [batch * (seq - 1), vocab]);
    const ids = tf.reshape(tf.slice(tf.cast(labels, 'int32'), [0, 1], [batch, seq - 1]), [batch * (seq - 1)]);
    const valid = tf.notEqual(ids, tf.scalar(IGNORE_INDEX, 'int32'));
    const safe = tf.where(valid, ids, tf.zerosLike(ids));
    // oneHot is made int32 and cast: wasm's OneHot ignores a float32 dtype.
    const picked = tf.sum(tf.mul(tf.logSoftmax(flatLogits, -1), tf.cast(tf.oneHot(safe, vocab), 'float32')), -1);
    const weights = tf.cast(valid, 'float32');
    return tf.div(tf.neg(tf.sum(tf.mul(picked, weights))), tf.sum(weights)) as tf.Scalar;
  });
}

/**
 * A `compile()` loss for a prompt-learning causal LM that takes the labels as the data has them,
 * `[batch, seq]`, and pads them for the logits `[batch, nvt + seq, vocab]` itself (use it with
 * @peftjs/models' `compileForLabels`, which lets labels differ in shape from the output).
 */
export function promptCausalLmLoss(labels: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const padding = logits.shape[1]! - labels.shape[1]!;
    if (padding < 0) throw new InvalidConfigError(`labels have ${labels.shape[1]} positions but the logits ${logits.shape[1]}`, { field: 'labels' });
    const padded = padLabels(labels, padding);
    return causalLmLoss(padded, logits);
  });
}

export interface CausalLmInputs {
  /** `[batch, seq]` token ids. */
  inputIds: tf.Tensor;
  /** `[batch, seq]`, 1 = attend, 0 = padding; default all ones. PEFT prepends ones for the virtual tokens. */
  attentionMask?: tf.Tensor;
  /** BERT-style models: `[batch, seq]`; default zeros. */
  tokenTypeIds?: tf.Tensor;
  /** `[batch, seq]`; -100 is ignored. Padded with -100 for the virtual tokens of prompt tuning and P-tuning. */
  labels?: tf.Tensor;
  /** Training mode (dropout in P-tuning's LSTM encoder). Default false. */
  training?: boolean;
  /** One task id per row, for multitask prompt tuning (PEFT's `task_ids`). */
  taskIds?: readonly number[];
}

export interface CausalLmOutput {
  /** `[batch, nvt + seq, vocab]` for prompt tuning and P-tuning, `[batch, seq, vocab]` for prefix tuning, as PEFT returns them. */
  logits: tf.Tensor;
  /** The loss over the (padded) labels, when labels were given. */
  loss?: tf.Scalar;
}

/** The model's inputs in its own order, by their transformers names. */
export function modelInputs(model: LayersModel, inputs: Omit<CausalLmInputs, 'labels' | 'training'>): tf.Tensor[] {
  const ids = inputs.inputIds.dtype === 'int32' ? inputs.inputIds : tf.cast(inputs.inputIds, 'int32');
  return model.inputs.map((input) => {
    const name = input.name.replace(/_\d+$/, '');
    if (name === 'input_ids') return ids;
    if (name === 'attention_mask') return inputs.attentionMask ? tf.cast(inputs.attentionMask, 'float32') : tf.cast(tf.onesLike(ids), 'float32');
    if (name === 'token_type_ids') return inputs.tokenTypeIds ? tf.cast(inputs.tokenTypeIds, 'int32') : tf.zerosLike(ids);
    throw new InvalidConfigError(`the model has an input "${input.name}" this forward does not know (expected input_ids, attention_mask, token_type_ids)`);
  });
}

/**
 * PEFT's `PeftModelForCausalLM.forward` for prompt learning: runs the adapted model (virtual
 * tokens, extended mask) and, with labels, the loss — labels padded with -100 for prompt
 * tuning and P-tuning, unchanged for prefix tuning. The caller disposes the outputs.
 */
export function forwardCausalLm(peftModel: PeftModel, inputs: CausalLmInputs): CausalLmOutput {
  const prompt = activePrompt(peftModel);
  return tf.tidy(() => {
    const run = () => peftModel.model.apply(modelInputs(peftModel.model, inputs), { training: inputs.training ?? false });
    const output = inputs.taskIds ? withForwardContext({ taskIds: inputs.taskIds }, run) : run();
    const logits = (Array.isArray(output) ? output[0]! : output) as tf.Tensor;
    if (!inputs.labels) return { logits };
    const labels = prompt.kind === 'input' ? padLabels(inputs.labels, prompt.numVirtualTokens) : inputs.labels;
    return { logits, loss: causalLmLoss(labels, logits) };
  }) as CausalLmOutput;
}
