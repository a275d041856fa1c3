import * as tf from '@tensorflow/tfjs-core';
import { POSITION_IDS_LAYER, TunerLayer, type ParamRef } from '@peftjs/core';
import { PromptLearningLayer, type PromptLayerArgs, type PromptLayerOptions } from './prompt-learning-layer';

type Kwargs = Record<string, unknown>;

/**
 * The model's default position ids shifted by `num_virtual_tokens`: with the prefix as past
 * keys/values, transformers numbers the real tokens from the past length on (GPT-2's
 * `arange(past, past + seq)`, Llama's `cache_position`). Marked as a position-ids layer, so
 * KV-cached generation feeds positions explicitly in its place.
 */
export class PrefixPositionIds extends PromptLearningLayer {
  static className = 'PrefixPositionIds';
  readonly [POSITION_IDS_LAYER] = true;

  constructor(args: PromptLayerArgs) {
    super(args);
  }

  protected createAdapter(): Map<string, ParamRef> {
    return new Map();
  }

  protected promptCall(inputs: tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const positions = this.baseCall(inputs, kwargs) as tf.Tensor;
    const active = this.activeAdapter<PromptLayerOptions>();
    return active ? tf.add(positions, tf.scalar(active.options.numVirtualTokens, positions.dtype)) : positions;
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new PrefixPositionIds({ ...args, peftType: config.peftType as string }), config) as unknown as T;
  }
}
