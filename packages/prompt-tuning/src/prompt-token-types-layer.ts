import * as tf from '@tensorflow/tfjs-core';
import { TunerLayer, type ParamRef } from '@peftjs/core';
import { promptInjectionEnabled } from './prompt-injection';
import { PromptLearningLayer, type PromptLayerArgs, type PromptLayerOptions } from './prompt-learning-layer';

type Kwargs = Record<string, unknown>;
type Shape = Array<number | null>;

/**
 * BERT's token-type embedding with type 0 for the virtual tokens: PEFT's sequence classification
 * prepends zeros to `token_type_ids` when it prepends the prompt (prompt tuning and P-tuning).
 */
export class PromptTokenTypes extends PromptLearningLayer {
  static className = 'PromptTokenTypes';

  constructor(args: PromptLayerArgs) {
    super(args);
  }

  protected createAdapter(): Map<string, ParamRef> {
    return new Map();
  }

  protected promptCall(inputs: tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const active = this.activeAdapter<PromptLayerOptions>();
    if (!active || !promptInjectionEnabled()) return this.baseCall(inputs, kwargs);
    const ids = inputs[0]!;
    const zeros = tf.zeros([ids.shape[0]!, active.options.numVirtualTokens], ids.dtype);
    return this.baseCall([tf.concat([zeros, ids], 1)], kwargs);
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    const shape = this.baseLayer.computeOutputShape(inputShape) as Shape;
    return [shape[0] ?? null, null, ...shape.slice(2)];
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new PromptTokenTypes({ ...args, peftType: config.peftType as string }), config) as unknown as T;
  }
}
