import * as tf from '@tensorflow/tfjs-core';
import { LayerVariable } from '@tensorflow/tfjs-layers';
import {
  AdapterStateError,
  currentForwardContext,
  InvalidConfigError,
  MergeError,
  permutedParam,
  TunerLayer,
  type ParamRef,
  type TunerLayerArgs,
  type VariableUpdate,
} from '@peftjs/core';
import { POLY_PEFT_TYPE } from './poly-config';
import { mixingWeights } from './poly-router';
import { TaskIdsError } from './task-ids-error';

type Kwargs = Record<string, unknown>;

/** What one Poly adapter of one layer is created from. */
export interface PolyAdapterOptions {
  r: number;
  nTasks: number;
  nSkills: number;
  nSplits: number;
  initWeights: boolean;
}

/** A LayerVariable whose saved name is pinned to `<layer>/<local>` on both the build and the deserialize path. */
function namedVariable(value: tf.Tensor, name: string): LayerVariable {
  const variable = new LayerVariable(value, 'float32', name, true);
  if (variable.originalName !== name) (variable as { originalName: string }).originalName = name;
  return variable;
}

/** torch's kaiming_uniform_(a=√5) on a `[out, fan_in]` matrix: U(±1/√fan_in). */
function kaimingUniform(shape: number[], fanIn: number): tf.Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return tf.randomUniform(shape, -bound, bound);
}

/**
 * Poly (Polytropon) on a Dense layer, PEFT's poly.Linear: an inventory of `n_skills` LoRA pairs
 * per split, mixed per batch row by the router of the row's task:
 * y_b = base(x_b) + x_b · A(t_b) · B(t_b) / r, where A(t) concatenates each split's weighted sum of
 * skills along the input axis and B(t) along the output axis. Task ids come from the forward
 * context (`peftModel.predict(inputs, { taskIds })`). There is no merge: the delta depends on the task.
 */
export class PolyDense extends TunerLayer {
  static className = 'PolyDense';
  readonly peftType = POLY_PEFT_TYPE;
  private readonly loraA = new Map<string, LayerVariable>();
  private readonly loraB = new Map<string, LayerVariable>();
  private readonly routers = new Map<string, LayerVariable>();

  constructor(args: TunerLayerArgs) {
    super(args);
  }

  private get kernelShape(): [number, number] {
    const kernel = this.baseLayer.weights.find((weight) => weight.shape.length === 2);
    if (!kernel) throw new AdapterStateError(`layer "${this.baseLayer.name}" has no rank-2 kernel; build the layer before adapting it`);
    return kernel.shape as [number, number];
  }

  get inFeatures(): number {
    return this.kernelShape[0];
  }

  get outFeatures(): number {
    return this.kernelShape[1];
  }

  private options(adapterName: string): PolyAdapterOptions {
    return this.getAdapterOptions<PolyAdapterOptions>(adapterName);
  }

  protected createAdapter(adapterName: string, rawOptions: unknown): Map<string, ParamRef> {
    const { r, nTasks, nSkills, nSplits, initWeights } = rawOptions as PolyAdapterOptions;
    if (!Number.isInteger(r) || r <= 0) throw new InvalidConfigError(`\`r\` should be a positive integer value but the value passed is ${r}`, { field: 'r' });
    for (const [size, what] of [
      [this.inFeatures, 'input'],
      [this.outFeatures, 'output'],
    ] as const) {
      if (size % nSplits !== 0) {
        throw new InvalidConfigError(
          `n_splits ${nSplits} does not divide the ${what} size ${size} of layer "${this.name}"; pick a divisor of both ${this.inFeatures} and ${this.outFeatures}`,
          {
            field: 'n_splits',
          },
        );
      }
    }
    const inSplit = this.inFeatures / nSplits;
    const outSplit = this.outFeatures / nSplits;
    const [a, b, logits] = tf.tidy(() => [
      // PEFT initialises every (split, skill) A as nn.Linear(d, r) would, stored transposed: [d, r].
      kaimingUniform([nSplits, nSkills, inSplit, r], inSplit),
      initWeights ? tf.zeros([nSplits, nSkills, r, outSplit]) : kaimingUniform([nSplits, nSkills, r, outSplit], r),
      tf.randomUniform([nTasks, nSplits * nSkills], -1e-3, 1e-3),
    ]);
    const variableA = namedVariable(a!, `${this.name}/poly_lora_A.${adapterName}`);
    const variableB = namedVariable(b!, `${this.name}/poly_lora_B.${adapterName}`);
    const router = namedVariable(logits!, `${this.name}/poly_router.${adapterName}.module_logits`);
    tf.dispose([a!, b!, logits!]);
    this.loraA.set(adapterName, variableA);
    this.loraB.set(adapterName, variableB);
    this.routers.set(adapterName, router);
    return new Map<string, ParamRef>([
      [`poly_lora_A.${adapterName}`, permutedParam(variableA)],
      [`poly_lora_B.${adapterName}`, permutedParam(variableB)],
      [`poly_router.${adapterName}.module_logits`, permutedParam(router)],
    ]);
  }

  protected override onAdapterDeleted(adapterName: string): void {
    this.loraA.delete(adapterName);
    this.loraB.delete(adapterName);
    this.routers.delete(adapterName);
  }

  /** The batch's task ids from the forward context, checked against the batch and the adapters' task counts. */
  private taskIds(batch: number): readonly number[] {
    const taskIds = currentForwardContext()?.taskIds;
    if (!taskIds) {
      throw new TaskIdsError(`Poly layer "${this.name}" needs one task id per batch row (PEFT: "task_ids should not be None."); run peftModel.predict(inputs, { taskIds: [...] })`);
    }
    if (taskIds.length !== batch) throw new TaskIdsError(`taskIds has ${taskIds.length} entries but the batch has ${batch} rows (Poly layer "${this.name}")`);
    return taskIds;
  }

  protected adaptedCall(inputs: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    if (currentForwardContext()?.adapterNames) {
      throw new AdapterStateError(`Poly layer "${this.name}" cannot run a mixed-adapter batch (adapterNames): PEFT 0.11.1 supports that for LoRA only`);
    }
    if (inputs.rank < 2)
      throw new AdapterStateError(`Poly layer "${this.name}" needs inputs of rank 2 or more ([batch, ..., ${this.inFeatures}]); got shape [${inputs.shape.join(', ')}]`);
    const batch = inputs.shape[0]!;
    const taskIds = this.taskIds(batch);
    const training = kwargs.training === true;
    let result = this.baseLayer.call(inputs, kwargs) as tf.Tensor;
    const rows = tf.reshape(inputs, [batch, -1, this.inFeatures]) as tf.Tensor3D;
    for (const name of this.activeAdapterNames) {
      const { r, nTasks, nSkills, nSplits } = this.options(name);
      const largest = Math.max(...taskIds);
      if (largest >= nTasks) throw new TaskIdsError(`Only ${nTasks} tasks available. Found task id = ${largest} (Poly adapter "${name}" of layer "${this.name}")`);
      const weights = mixingWeights(this.routers.get(name)!.read(), taskIds, nSplits, nSkills, training);
      // Per split q: Σ_s w[b, q, s]·A[q, s], as one batched product over the splits.
      const perSplit = tf.transpose(weights, [1, 0, 2]) as tf.Tensor3D;
      const inSplit = this.inFeatures / nSplits;
      const outSplit = this.outFeatures / nSplits;
      const mixedA = tf.matMul(perSplit, tf.reshape(this.loraA.get(name)!.read(), [nSplits, nSkills, inSplit * r]) as tf.Tensor3D);
      const a = tf.reshape(tf.transpose(tf.reshape(mixedA, [nSplits, batch, inSplit, r]), [1, 0, 2, 3]), [batch, this.inFeatures, r]) as tf.Tensor3D;
      const mixedB = tf.matMul(perSplit, tf.reshape(this.loraB.get(name)!.read(), [nSplits, nSkills, r * outSplit]) as tf.Tensor3D);
      const b = tf.reshape(tf.transpose(tf.reshape(mixedB, [nSplits, batch, r, outSplit]), [1, 2, 0, 3]), [batch, r, this.outFeatures]) as tf.Tensor3D;
      const delta = tf.div(tf.matMul(tf.matMul(rows, a), b), r);
      result = tf.add(result, tf.reshape(delta, result.shape));
    }
    return result;
  }

  private noMerge(): never {
    throw new MergeError(`Poly has no merge (its delta depends on the task ids, and PEFT 0.11.1 has none either); use unload() to get the base model back`);
  }

  protected mergeUpdates(): VariableUpdate[] {
    return this.noMerge();
  }

  protected unmergeUpdates(): VariableUpdate[] {
    return this.noMerge();
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new PolyDense(args), config) as unknown as T;
  }
}
