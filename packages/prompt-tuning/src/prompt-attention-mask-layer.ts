import * as tf from '@tensorflow/tfjs-core';
import { TunerLayer, type ParamRef } from '@peftjs/core';
import { PromptLearningLayer, type PromptLayerArgs, type PromptLayerOptions } from './prompt-learning-layer';

type Kwargs = Record<string, unknown>;

/**
 * The attention-mask layer (`AttentionMaskBias`) with `num_virtual_tokens` ones prepended to
 * `attention_mask`, as PEFT extends the mask for every prompt method — at every generation step.
 */
export class PromptAttentionMask extends PromptLearningLayer {
  static className = 'PromptAttentionMask';

  constructor(args: PromptLayerArgs) {
    super(args);
  }

  protected createAdapter(): Map<string, ParamRef> {
    return new Map();
  }

  protected promptCall(inputs: tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const active = this.activeAdapter<PromptLayerOptions>();
    if (!active) return this.baseCall(inputs, kwargs);
    const [mask, ...rest] = inputs;
    const ones = tf.ones([mask!.shape[0]!, active.options.numVirtualTokens], mask!.dtype);
    return this.baseCall([tf.concat([ones, mask!], 1), ...rest], kwargs);
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new PromptAttentionMask({ ...args, peftType: config.peftType as string }), config) as unknown as T;
  }
}
