import * as tf from '@tensorflow/tfjs-core';
import { AdapterStateError, layerParameters, MergeError, TunerLayer, type ParamRef, type TunerLayerArgs, type VariableUpdate } from '@peftjs/core';
import { ADAPTION_PROMPT_PEFT_TYPE } from './adaption-prompt-config';

type Kwargs = Record<string, unknown>;

/**
 * A biased `o_proj` next to an AdaptedAttention. PEFT adds `o_proj(attention) + o_proj(adapter)`:
 * two calls, two biases. The adapted attention adds its term before `o_proj` (one call), so this
 * wrapper adds the second bias while the adapter is active. A bias-free `o_proj` (Llama's
 * default, Mistral) is never wrapped. It holds no weights of its own.
 */
export class AdaptedOutputProjection extends TunerLayer {
  static className = 'AdaptedOutputProjection';
  readonly peftType = ADAPTION_PROMPT_PEFT_TYPE;

  constructor(args: TunerLayerArgs) {
    super(args);
  }

  protected createAdapter(): Map<string, ParamRef> {
    return new Map();
  }

  override setActiveAdapters(adapterNames: readonly string[]): void {
    if (adapterNames.length > 1) throw new AdapterStateError(`ADAPTION_PROMPT runs one adapter at a time; got ${adapterNames.join(', ')}`);
    super.setActiveAdapters(adapterNames);
  }

  protected mergeUpdates(): VariableUpdate[] {
    throw new MergeError('ADAPTION_PROMPT adapters cannot be merged (PEFT 0.11.1 has no merge for adaption prompts)');
  }

  protected unmergeUpdates(): VariableUpdate[] {
    return [];
  }

  protected adaptedCall(input: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    const output = this.baseLayer.call(input, kwargs) as tf.Tensor;
    const bias = layerParameters(this.baseLayer).get('bias');
    return bias ? tf.add(output, bias.variable.read()) : output;
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new AdaptedOutputProjection(args), config) as unknown as T;
  }
}
