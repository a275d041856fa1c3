import * as tf from '@tensorflow/tfjs-core';
import { AdapterStateError, currentForwardContext, MergeError, TunerLayer, type TunerLayerArgs, type VariableUpdate } from '@peftjs/core';

type Kwargs = Record<string, unknown>;

function tensorList(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(inputs) ? inputs : [inputs];
}

/** Options every prompt-learning layer keeps per adapter (plain JSON, serialized with the layer). */
export interface PromptLayerOptions {
  numVirtualTokens: number;
}

export interface PromptLayerArgs extends TunerLayerArgs {
  /** The tuner that owns the layer: PROMPT_TUNING, P_TUNING or PREFIX_TUNING. */
  peftType: string;
}

/**
 * The base of the layers prompt learning puts around a model's own layers. Like PEFT, one
 * adapter runs at a time, there is nothing to merge, and a disabled layer is its base layer.
 */
export abstract class PromptLearningLayer extends TunerLayer {
  readonly peftType: string;

  constructor(args: PromptLayerArgs) {
    super(args);
    this.peftType = args.peftType;
  }

  /** The active adapter and its options; undefined when the layer passes its input through. */
  protected activeAdapter<T extends PromptLayerOptions>(): { name: string; options: T } | undefined {
    if (this.disabledFlag || this.activeAdapterNames.length === 0) return undefined;
    if (currentForwardContext()?.adapterNames) {
      throw new AdapterStateError(`${this.peftType} cannot run a mixed-adapter batch (adapterNames): the virtual tokens of one adapter change the sequence for the whole batch`);
    }
    const name = this.activeAdapterNames[0]!;
    return { name, options: this.getAdapterOptions<T>(name) };
  }

  /** The virtual tokens this layer adds in the next forward pass (0 when it passes through). */
  get activeVirtualTokens(): number {
    if (this.disabledFlag || this.activeAdapterNames.length === 0) return 0;
    return this.getAdapterOptions<PromptLayerOptions>(this.activeAdapterNames[0]!).numVirtualTokens;
  }

  override setActiveAdapters(adapterNames: readonly string[]): void {
    if (adapterNames.length > 1) {
      throw new AdapterStateError(`${this.peftType} runs one adapter at a time (as PEFT's set_adapter); got ${adapterNames.join(', ')}`);
    }
    super.setActiveAdapters(adapterNames);
  }

  protected mergeUpdates(): VariableUpdate[] {
    throw new MergeError(`${this.peftType} adapters cannot be merged: virtual tokens are inputs, not weight changes (PEFT has no merge for prompt learning)`);
  }

  protected unmergeUpdates(): VariableUpdate[] {
    return [];
  }

  protected adaptedCall(input: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    return this.promptCall([input], kwargs) as tf.Tensor;
  }

  /** The forward pass on every input of the wrapped layer. */
  protected abstract promptCall(inputs: tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[];

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    return tf.tidy(() => this.promptCall(tensorList(inputs), kwargs));
  }

  /** The wrapped layer on all inputs (a single tensor when there is one). */
  protected baseCall(inputs: tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    return this.baseLayer.call(inputs.length === 1 ? inputs[0]! : inputs, kwargs);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), peftType: this.peftType };
  }
}
