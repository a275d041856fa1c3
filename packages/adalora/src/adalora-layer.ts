import * as tf from '@tensorflow/tfjs-core';
import { LayerVariable, type layers } from '@tensorflow/tfjs-layers';
import { AdapterStateError, currentForwardContext, InvalidConfigError, permutedParam, TunerLayer, type ParamRef, type TunerLayerArgs, type VariableUpdate } from '@peftjs/core';
import { ADALORA_PEFT_TYPE } from './adalora-config';
import { maskedParam } from './masked-param';

type Kwargs = Record<string, unknown>;

/** What one adapter of one layer is created from (also what the layer's getConfig() stores). */
export interface AdaLoraAdapterOptions {
  /** The initial rank `init_r`: the rows of lora_A / lora_E and PEFT's `ranknum`. */
  r: number;
  loraAlpha: number;
  loraDropout: number;
  initLoraWeights: boolean | 'gaussian';
  /** The kept triplets from the config's rank_pattern (true = kept); null keeps all. */
  rankMask: boolean[] | null;
}

/** PEFT's ranknum offset: `scaling / (ranknum + 1e-5)`. */
const RANKNUM_EPSILON = 1e-5;

function localName(variable: LayerVariable): string {
  const name = variable.originalName ?? variable.name;
  return name.slice(name.lastIndexOf('/') + 1);
}

/** A base layer's weight by its tfjs name, tolerating tfjs' `_1` suffixes. */
function findWeight(layer: layers.Layer, name: string): LayerVariable | undefined {
  const weights = layer.weights;
  return weights.find((variable) => localName(variable) === name) ?? weights.find((variable) => localName(variable).replace(/_\d+$/, '') === name);
}

/** A LayerVariable whose saved name is pinned to `<layer>/<local>` on both the build and the deserialize path. */
function namedVariable(value: tf.Tensor, name: string): LayerVariable {
  const variable = new LayerVariable(value, 'float32', name, true);
  if (variable.originalName !== name) (variable as { originalName: string }).originalName = name;
  return variable;
}

/** x·W over the last axis of x, for inputs of any rank >= 2. */
function matMulLastAxis(inputs: tf.Tensor, kernel: tf.Tensor): tf.Tensor {
  const last = inputs.shape[inputs.rank - 1]!;
  const flat = tf.reshape(inputs, [-1, last]) as tf.Tensor2D;
  const product = tf.matMul(flat, kernel as tf.Tensor2D);
  return tf.reshape(product, [...inputs.shape.slice(0, -1), kernel.shape[kernel.rank - 1]!]);
}

/**
 * AdaLoRA on a Dense layer or any layer class registered as linear with an `[in, out]` kernel
 * (GPT-2's Conv1D): PEFT's SVDLinear. ΔW = B·(A ⊙ E) · α / (ranknum + 1e-5), with the right
 * singular vectors A `[r, in]`, the singular values E `[r, 1]` and the left singular vectors B
 * `[out, r]`, kept in torch's layout. `ranknum` is the initial rank and stays so after pruning.
 */
export class AdaLoraDense extends TunerLayer {
  static className = 'AdaLoraDense';
  readonly peftType = ADALORA_PEFT_TYPE;
  private readonly loraA = new Map<string, LayerVariable>();
  private readonly loraE = new Map<string, LayerVariable>();
  private readonly loraB = new Map<string, LayerVariable>();
  /** Kept triplets per adapter as last read back (what a save writes); null keeps all. */
  private readonly rankMasks = new Map<string, boolean[] | null>();
  /**
   * The `[r, 1]` mask of an adapter created from a config's rank_pattern (a saved adapter): its
   * pruned triplets are gone, as in PEFT's resized modules, so E is masked in every forward. The
   * rank allocator's masks during training only zero E, as PEFT's do.
   */
  private readonly fixedMasks = new Map<string, tf.Tensor>();
  /** PEFT's frozen `ranknum` parameter (the initial rank), listed so parameter counts match PEFT's. */
  private readonly ranknums = new Map<string, LayerVariable>();
  private kernelVariable: LayerVariable | undefined;

  constructor(args: TunerLayerArgs) {
    super(args);
  }

  /** The base kernel, tfjs layout `[in, out]`. */
  get kernel(): LayerVariable {
    if (!this.kernelVariable) {
      // In a mixed model the base layer may be another tuner's layer; the weights are the innermost layer's.
      const weights = this.innermostBaseLayer;
      const kernel = findWeight(weights, 'kernel') ?? weights.weights.find((weight) => weight.shape.length === 2);
      if (kernel?.shape.length !== 2) {
        throw new AdapterStateError(`layer "${weights.name}" (${weights.getClassName()}) has no rank-2 kernel; build the layer before adapting it`);
      }
      this.kernelVariable = kernel;
    }
    return this.kernelVariable;
  }

  get inFeatures(): number {
    return this.kernel.shape[0]!;
  }

  get outFeatures(): number {
    return this.kernel.shape[1]!;
  }

  private options(adapterName: string): AdaLoraAdapterOptions {
    return this.getAdapterOptions<AdaLoraAdapterOptions>(adapterName);
  }

  /** `lora_alpha / (ranknum + 1e-5)` (PEFT uses r when lora_alpha is not positive). */
  scaling(adapterName: string): number {
    const { r, loraAlpha } = this.options(adapterName);
    return (loraAlpha > 0 ? loraAlpha : r) / (r + RANKNUM_EPSILON);
  }

  /** lora_A `[r, in]`, lora_E `[r, 1]` and lora_B `[out, r]` of an adapter. */
  triplets(adapterName: string): { a: LayerVariable; e: LayerVariable; b: LayerVariable } {
    this.assertAdapter(adapterName);
    return { a: this.loraA.get(adapterName)!, e: this.loraE.get(adapterName)!, b: this.loraB.get(adapterName)! };
  }

  /** The kept triplets a save writes (null: all). */
  rankMask(adapterName: string): boolean[] | null {
    this.assertAdapter(adapterName);
    const mask = this.rankMasks.get(adapterName);
    return mask ? [...mask] : null;
  }

  /** Records which triplets are kept (the rank allocator's result), for saving. */
  setRankMask(adapterName: string, mask: readonly boolean[] | null): void {
    const { r } = this.options(adapterName);
    if (mask && mask.length !== r) {
      throw new InvalidConfigError(`rank_pattern for "${this.name}.lora_E" has ${mask.length} entries; the adapter "${adapterName}" has init_r ${r}`, { field: 'rank_pattern' });
    }
    this.rankMasks.set(adapterName, mask ? [...mask] : null);
  }

  protected createAdapter(adapterName: string, rawOptions: unknown): Map<string, ParamRef> {
    const options = rawOptions as AdaLoraAdapterOptions;
    if (!Number.isInteger(options.r) || options.r < 0) {
      throw new InvalidConfigError(`\`r\` should be a positive integer or 0, but the value passed is ${options.r} (layer "${this.name}")`, { field: 'init_r' });
    }
    if (options.rankMask && options.rankMask.length !== options.r) {
      throw new InvalidConfigError(`rank_pattern for "${this.name}.lora_E" has ${options.rankMask.length} entries; init_r is ${options.r}`, { field: 'rank_pattern' });
    }
    const { r } = options;
    const [a, e, b] = tf.tidy(() => {
      if (options.initLoraWeights === false) return [tf.randomNormal([r, this.inFeatures]), tf.randomNormal([r, 1]), tf.randomNormal([this.outFeatures, r])];
      // PEFT's reset_lora_parameters: E = 0 (the adapter starts as the identity), A and B ~ N(0, 0.02).
      return [tf.randomNormal([r, this.inFeatures], 0, 0.02), tf.zeros([r, 1]), tf.randomNormal([this.outFeatures, r], 0, 0.02)];
    });
    // A pruned triplet has lora_E = 0, as after PEFT's masking.
    const eMasked = options.rankMask
      ? tf.tidy(() =>
          tf.mul(
            e!,
            tf.tensor2d(
              options.rankMask!.map((kept) => (kept ? 1 : 0)),
              [r, 1],
            ),
          ),
        )
      : e!;
    const variableA = namedVariable(a!, `${this.name}/lora_A.${adapterName}`);
    const variableE = namedVariable(eMasked, `${this.name}/lora_E.${adapterName}`);
    const variableB = namedVariable(b!, `${this.name}/lora_B.${adapterName}`);
    tf.dispose([a!, e!, b!, eMasked]);
    this.loraA.set(adapterName, variableA);
    this.loraE.set(adapterName, variableE);
    this.loraB.set(adapterName, variableB);
    this.rankMasks.set(adapterName, options.rankMask ? [...options.rankMask] : null);
    if (options.rankMask)
      this.fixedMasks.set(
        adapterName,
        tf.tensor2d(
          options.rankMask.map((kept) => (kept ? 1 : 0)),
          [r, 1],
        ),
      );
    const ranknum = tf.tensor1d([r]);
    this.ranknums.set(adapterName, new LayerVariable(ranknum, 'float32', `${this.name}/ranknum.${adapterName}`, false));
    ranknum.dispose();
    const mask = () => this.rankMasks.get(adapterName) ?? null;
    return new Map<string, ParamRef>([
      [`lora_A.${adapterName}`, maskedParam(variableA, 0, mask)],
      [`lora_B.${adapterName}`, maskedParam(variableB, 1, mask)],
      [`lora_E.${adapterName}`, maskedParam(variableE, 0, mask)],
    ]);
  }

  protected override onAdapterDeleted(adapterName: string): void {
    this.loraA.delete(adapterName);
    this.loraE.delete(adapterName);
    this.loraB.delete(adapterName);
    this.rankMasks.delete(adapterName);
    this.fixedMasks.get(adapterName)?.dispose();
    this.fixedMasks.delete(adapterName);
    this.ranknums.get(adapterName)?.dispose();
    this.ranknums.delete(adapterName);
  }

  /** Adds PEFT's `ranknum.<adapter>` (never trained, never saved: its name has no `lora_`). */
  override namedParameters(): Map<string, ParamRef> {
    const result = super.namedParameters();
    for (const [adapterName, variable] of this.ranknums) result.set(`ranknum.${adapterName}`, permutedParam(variable));
    return result;
  }

  /** A ⊙ E `[r, in]`, with a saved adapter's pruned triplets masked out. */
  private weightedA(adapterName: string): tf.Tensor2D {
    const { a, e } = this.triplets(adapterName);
    const fixed = this.fixedMasks.get(adapterName);
    return tf.mul(a.read(), fixed ? tf.mul(e.read(), fixed) : e.read()) as tf.Tensor2D;
  }

  /** The base output before any activation (Dense layers may carry one; the delta goes inside it). */
  private baseOutput(inputs: tf.Tensor, kwargs: Kwargs): { output: tf.Tensor; activate: (value: tf.Tensor) => tf.Tensor } {
    const weights = this.innermostBaseLayer;
    const activation = (weights as unknown as { activation?: { apply(value: tf.Tensor): tf.Tensor; getClassName?(): string } | null }).activation;
    const activate = !activation || activation.getClassName?.() === 'linear' ? (value: tf.Tensor) => value : (value: tf.Tensor) => activation.apply(value);
    // In a mixed model the wrapped tuner layer gives its output (its adapters applied) before the activation.
    if (TunerLayer.isTunerLayer(this.baseLayer)) return { output: this.baseLayer.preActivationCall(inputs, kwargs), activate };
    if (!activation || activation.getClassName?.() === 'linear') return { output: this.baseLayer.call(inputs, kwargs) as tf.Tensor, activate };
    const bias = findWeight(weights, 'bias');
    let output = matMulLastAxis(inputs, this.kernel.read());
    if (bias && bias.shape.length === 1) output = tf.add(output, bias.read());
    return { output, activate };
  }

  /** Output before the innermost layer's activation, so an outer tuner layer of a mixed model can add to it. */
  override preActivationCall(inputs: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      if (this.disabled || this.merged || this.activeAdapterNames.length === 0) return this.baseOutput(inputs, kwargs).output;
      return this.adaptedPreActivation(inputs, kwargs);
    });
  }

  /** ((x·(A ⊙ E)ᵀ)·Bᵀ) · scaling, over the last axis. */
  private delta(inputs: tf.Tensor, adapterName: string): tf.Tensor {
    const { b } = this.triplets(adapterName);
    const flat = tf.reshape(inputs, [-1, this.inFeatures]) as tf.Tensor2D;
    const low = tf.matMul(flat, this.weightedA(adapterName), false, true);
    const product = tf.mul(tf.matMul(low, b.read() as tf.Tensor2D, false, true), this.scaling(adapterName));
    return tf.reshape(product, [...inputs.shape.slice(0, -1), this.outFeatures]);
  }

  protected adaptedCall(inputs: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    return this.baseOutput(inputs, kwargs).activate(this.adaptedPreActivation(inputs, kwargs));
  }

  /** The base output before the activation plus each active adapter's delta. */
  private adaptedPreActivation(inputs: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    if (currentForwardContext()?.adapterNames) {
      throw new AdapterStateError(`AdaLoRA layer "${this.name}" cannot run a mixed-adapter batch (adapterNames): PEFT 0.11.1 supports that for LoRA only`);
    }
    const training = kwargs.training === true;
    let result = this.baseOutput(inputs, kwargs).output;
    for (const name of this.activeAdapterNames) {
      const { loraDropout } = this.options(name);
      const dropped = training && loraDropout > 0 ? tf.dropout(inputs, loraDropout) : inputs;
      result = tf.add(result, this.delta(dropped, name));
    }
    return result;
  }

  /** ΔW in the kernel's tfjs layout `[in, out]`: ((B·(A ⊙ E))ᵀ) · scaling. The caller disposes it. */
  deltaKernel(adapterName: string): tf.Tensor2D {
    const { b } = this.triplets(adapterName);
    return tf.tidy(() => tf.mul(tf.matMul(this.weightedA(adapterName), b.read() as tf.Tensor2D, true, true), this.scaling(adapterName)) as tf.Tensor2D);
  }

  protected mergeUpdates(adapterName: string): VariableUpdate[] {
    const kernel = this.kernel;
    return [{ variable: kernel, value: tf.tidy(() => tf.add(kernel.read(), this.deltaKernel(adapterName))) }];
  }

  protected unmergeUpdates(adapterName: string): VariableUpdate[] {
    const kernel = this.kernel;
    return [{ variable: kernel, value: tf.tidy(() => tf.sub(kernel.read(), this.deltaKernel(adapterName))) }];
  }

  /** The adapters' options with the current kept triplets, so a deserialized layer masks the same way. */
  override getConfig(): tf.serialization.ConfigDict {
    const config = super.getConfig();
    const adapters = config.adapters as unknown as Record<string, AdaLoraAdapterOptions>;
    const current = Object.fromEntries(Object.entries(adapters).map(([name, options]) => [name, { ...options, rankMask: this.rankMasks.get(name) ?? null }]));
    return { ...config, adapters: current as unknown as tf.serialization.ConfigDict };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new AdaLoraDense(args), config) as unknown as T;
  }
}
