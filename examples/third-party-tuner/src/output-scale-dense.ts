import * as tf from '@tensorflow/tfjs-core';
import { LayerVariable } from '@tensorflow/tfjs-layers';
import { permutedParam, TunerLayer, type ParamRef, type TunerLayerArgs, type VariableUpdate } from '@peftjs/core';

export interface OutputScaleOptions {
  initScaleWeights: boolean;
}

/** y = base(x) ⊙ s, with one `s` of shape [units] per adapter; merging scales the kernel's columns and the bias. */
export class OutputScaleDense extends TunerLayer {
  static className = 'OutputScaleDense';
  readonly peftType = 'OUTPUT_SCALE';
  private readonly scales = new Map<string, LayerVariable>();

  constructor(args: TunerLayerArgs) {
    super(args);
  }

  private get units(): number {
    return (this.baseLayer.getConfig().units as number) ?? 0;
  }

  protected createAdapter(adapterName: string, options: unknown): Map<string, ParamRef> {
    const { initScaleWeights } = options as OutputScaleOptions;
    const init = initScaleWeights ? tf.ones([this.units]) : tf.randomNormal([this.units], 1, 0.1);
    const scale = new LayerVariable(init, 'float32', `${this.name}/scale_vector.${adapterName}`, true);
    init.dispose();
    this.scales.set(adapterName, scale);
    return new Map([[`scale_vector.${adapterName}`, permutedParam(scale)]]);
  }

  protected override onAdapterDeleted(adapterName: string): void {
    this.scales.delete(adapterName);
  }

  protected adaptedCall(inputs: tf.Tensor, kwargs: Record<string, unknown>): tf.Tensor {
    let output = this.baseLayer.call(inputs, kwargs) as tf.Tensor;
    for (const name of this.activeAdapterNames) output = tf.mul(output, this.scales.get(name)!.read());
    return output;
  }

  private baseVariables(): LayerVariable[] {
    return this.baseLayer.weights;
  }

  protected mergeUpdates(adapterName: string): VariableUpdate[] {
    const scale = this.scales.get(adapterName)!.read();
    return this.baseVariables().map((variable) => ({ variable, value: tf.mul(variable.read(), scale) }));
  }

  protected unmergeUpdates(adapterName: string): VariableUpdate[] {
    const scale = this.scales.get(adapterName)!.read();
    return this.baseVariables().map((variable) => ({ variable, value: tf.div(variable.read(), scale) }));
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new OutputScaleDense(args), config) as unknown as T;
  }
}
