import * as tf from '@tensorflow/tfjs-core';
import { LayerVariable } from '@tensorflow/tfjs-layers';
import {
  AdapterStateError,
  BASE_ADAPTER_NAME,
  currentForwardContext,
  InvalidConfigError,
  permutedParam,
  TunerLayer,
  type ParamRef,
  type TunerLayerArgs,
  type VariableUpdate,
} from '@peftjs/core';
import { isPissaInit, LORA_PEFT_TYPE, type LoraInit } from './lora-config';
import { scaleBy } from './constant-scale';
import { stopGradient } from './stop-gradient';

type Kwargs = Record<string, unknown>;

/** What one adapter of one layer is created from (also what the layer's getConfig() stores). */
export interface LoraAdapterOptions {
  r: number;
  loraAlpha: number;
  loraDropout: number;
  useRslora: boolean;
  useDora: boolean;
  initLoraWeights: LoraInit;
  /** Set once an asynchronous initialisation (PiSSA) has written the weights. */
  initialized?: boolean;
}

/** One adapter's factors in torch orientation, flattened to 2-D: ΔW = scaling · B · A, with A `[r, fan-in]` and B `[out, r]`. */
export interface LoraFactors {
  a: tf.Tensor2D;
  b: tf.Tensor2D;
}

/** LoRA's scaling: α / r, or α / √r with rsLoRA. */
export function loraScaling(options: Pick<LoraAdapterOptions, 'r' | 'loraAlpha' | 'useRslora'>): number {
  return options.useRslora ? options.loraAlpha / Math.sqrt(options.r) : options.loraAlpha / options.r;
}

/** Per-output-channel L2 norm of a kernel whose last axis is the output axis. */
function outputNorm(kernel: tf.Tensor): tf.Tensor1D {
  const axes = kernel.shape.slice(0, -1).map((_, index) => index);
  return tf.sqrt(tf.sum(tf.square(kernel), axes)) as tf.Tensor1D;
}

/**
 * A LayerVariable named `<layer>/<local>`. tfjs prefixes names with the current name scope, which
 * is the layer's own name while a deserialized layer builds (then it would read `conv/conv/...`),
 * so the name weights are saved and loaded under is pinned to the same value on both paths.
 */
function namedVariable(value: tf.Tensor, name: string): LayerVariable {
  const variable = new LayerVariable(value, 'float32', name, true);
  if (variable.originalName !== name) (variable as { originalName: string }).originalName = name;
  return variable;
}

function uniform(shape: number[], bound: number): tf.Tensor {
  return tf.randomUniform(shape, -bound, bound, 'float32');
}

/**
 * What LoraDense, LoraConv2D and LoraEmbedding share (PEFT's LoraLayer): named adapters, each
 * with its own rank, alpha, scaling, dropout and optional DoRA magnitude; forward with several
 * active adapters or a mixed-adapter batch; exact merge and unmerge (DoRA caches the weight norm
 * at merge, so unmerge restores the weights).
 *
 * The factors are stored in the layout the tfjs kernels use and converted to torch's at the
 * ParamRef boundary (saved as `lora_A.<adapter>.weight` [r, in], `lora_B.<adapter>.weight` [out, r], ...).
 */
export abstract class LoraLayer extends TunerLayer {
  readonly peftType = LORA_PEFT_TYPE;
  protected readonly loraA = new Map<string, LayerVariable>();
  protected readonly loraB = new Map<string, LayerVariable>();
  protected readonly magnitudes = new Map<string, LayerVariable>();
  private readonly weightNorms = new Map<string, tf.Tensor>();

  constructor(args: TunerLayerArgs) {
    super(args);
  }

  // ---- what each layer kind provides ----------------------------------------------------------

  /** PEFT's names of the two factors: `lora_A` / `lora_B` or `lora_embedding_A` / `lora_embedding_B`. */
  protected abstract readonly factorNames: { a: string; b: string; suffix: string };
  protected abstract readonly supportsDora: boolean;
  protected abstract readonly usesDropout: boolean;
  /** The tfjs shapes of A and B for rank r. */
  protected abstract factorShapes(r: number): { a: number[]; b: number[] };
  /** The permutation from the tfjs layout of A and B to torch's. */
  protected abstract readonly factorPermutation: readonly number[];
  /** The base weight (tfjs layout, output axis last). */
  abstract get kernel(): LayerVariable;
  /** The base layer's computation before its activation (bias included). */
  protected abstract preActivation(inputs: tf.Tensor): tf.Tensor;
  /** The base layer's activation (identity when it has none). */
  protected abstract activate(outputs: tf.Tensor): tf.Tensor;
  /** The base computation with another kernel and no bias (DoRA's x·W). */
  protected abstract applyKernel(inputs: tf.Tensor, kernel: tf.Tensor): tf.Tensor;
  /** B(A(x)) from tfjs-layout factors, unscaled. */
  protected abstract loraBranch(inputs: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Tensor;
  /** B·A as a kernel in the tfjs layout, unscaled (a plain product for 2-D kernels; Conv2D overrides). */
  protected deltaFromFactors(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    return tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D);
  }
  /** The fan-in of A (nn.Linear / nn.Conv2d default init bound 1/√fan-in). */
  protected abstract fanIn(): number;
  /** The DoRA magnitude as PEFT saves it. */
  protected magnitudeParam(variable: LayerVariable): ParamRef {
    return permutedParam(variable);
  }

  /** The initial A and B (tfjs layouts) for an init mode. */
  protected initialFactors(r: number, init: LoraInit): { a: tf.Tensor; b: tf.Tensor } {
    const shapes = this.factorShapes(r);
    if (isPissaInit(init)) return { a: tf.zeros(shapes.a), b: tf.zeros(shapes.b) };
    if (init === false) return { a: uniform(shapes.a, 1 / Math.sqrt(this.fanIn())), b: uniform(shapes.b, 1 / Math.sqrt(r)) };
    if (init === 'gaussian') return { a: tf.randomNormal(shapes.a, 0, 1 / r), b: tf.zeros(shapes.b) };
    return { a: uniform(shapes.a, 1 / Math.sqrt(this.fanIn())), b: tf.zeros(shapes.b) };
  }

  // ---- adapters -------------------------------------------------------------------------------

  /** The options an adapter was created with, and its scaling. */
  adapterSettings(adapterName: string): LoraAdapterOptions & { scaling: number } {
    const options = this.getAdapterOptions<LoraAdapterOptions>(adapterName);
    return { ...options, scaling: loraScaling(options) };
  }

  protected createAdapter(adapterName: string, rawOptions: unknown): Map<string, ParamRef> {
    const options = rawOptions as LoraAdapterOptions;
    // `r` was validated once, by the config schema (rank_pattern values too).
    if (options.useDora && !this.supportsDora) {
      throw new InvalidConfigError(`${this.getClassName()} "${this.name}" does not support DoRA (use_dora); set use_dora to false or leave this layer out of target_modules`, {
        field: 'use_dora',
      });
    }
    const { a, b } = this.initialFactors(options.r, options.initLoraWeights);
    const { a: aName, b: bName, suffix } = this.factorNames;
    const variableA = namedVariable(a, `${this.name}/${aName}.${adapterName}${suffix}`);
    const variableB = namedVariable(b, `${this.name}/${bName}.${adapterName}${suffix}`);
    tf.dispose([a, b]);
    this.loraA.set(adapterName, variableA);
    this.loraB.set(adapterName, variableB);
    const params = new Map<string, ParamRef>([
      [`${aName}.${adapterName}${suffix}`, permutedParam(variableA, this.factorPermutation)],
      [`${bName}.${adapterName}${suffix}`, permutedParam(variableB, this.factorPermutation)],
    ]);
    if (options.useDora) {
      const initial = tf.tidy(() => this.doraNorm(variableA.read(), variableB.read(), loraScaling(options)));
      const magnitude = namedVariable(initial, `${this.name}/lora_magnitude_vector.${adapterName}`);
      initial.dispose();
      this.magnitudes.set(adapterName, magnitude);
      params.set(`lora_magnitude_vector.${adapterName}`, this.magnitudeParam(magnitude));
    }
    return params;
  }

  protected override onAdapterDeleted(adapterName: string): void {
    this.loraA.delete(adapterName);
    this.loraB.delete(adapterName);
    this.magnitudes.delete(adapterName);
    this.weightNorms.get(adapterName)?.dispose();
    this.weightNorms.delete(adapterName);
  }

  /** ‖W + s·B·A‖ per output channel (DoRA's weight norm), from the current base weight. */
  private doraNorm(a: tf.Tensor, b: tf.Tensor, scaling: number): tf.Tensor1D {
    return outputNorm(tf.add(this.kernel.read(), tf.mul(this.deltaFromFactors(a, b), scaling)));
  }

  /** Whether an adapter still waits for an asynchronous initialisation (PiSSA). */
  isPendingInit(adapterName: string): boolean {
    const options = this.getAdapterOptions<LoraAdapterOptions>(adapterName);
    return isPissaInit(options.initLoraWeights) && !options.initialized;
  }

  private assertInitialized(adapterNames: readonly string[]): void {
    for (const name of adapterNames) {
      if (this.hasAdapter(name) && this.isPendingInit(name)) {
        throw new AdapterStateError(
          `adapter "${name}" of layer "${this.name}" uses init_lora_weights "${this.adapterSettings(name).initLoraWeights}", whose SVD runs asynchronously: ` +
            `await initializePissa(peftModel, "${name}") (from @peftjs/lora) before running, merging or loading weights into it`,
        );
      }
    }
  }

  // ---- forward --------------------------------------------------------------------------------

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const adapterNames = currentForwardContext()?.adapterNames;
    if (!adapterNames || this.disabled || this.merged) return super.call(inputs, kwargs);
    return tf.tidy(() => this.mixedBatchCall(Array.isArray(inputs) ? inputs[0]! : inputs, kwargs, adapterNames));
  }

  protected adaptedCall(inputs: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    return this.activate(this.adaptedPreActivation(inputs, kwargs));
  }

  /** The base output before the activation; in a mixed model, that of the tuner layer this one wraps. */
  private basePreActivation(inputs: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    return TunerLayer.isTunerLayer(this.baseLayer) ? this.baseLayer.preActivationCall(inputs, kwargs) : this.preActivation(inputs);
  }

  override preActivationCall(inputs: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      if (this.disabled || this.merged || this.activeAdapterNames.length === 0) return this.basePreActivation(inputs, kwargs);
      return this.adaptedPreActivation(inputs, kwargs);
    });
  }

  private adaptedPreActivation(inputs: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    this.assertInitialized(this.activeAdapterNames);
    const training = kwargs.training === true;
    let result = this.basePreActivation(inputs, kwargs);
    for (const name of this.activeAdapterNames) {
      const settings = this.adapterSettings(name);
      const a = this.loraA.get(name)!.read();
      const b = this.loraB.get(name)!.read();
      const dropped = this.usesDropout && training && settings.loraDropout > 0 ? tf.dropout(inputs, settings.loraDropout) : inputs;
      const lora = scaleBy(this.loraBranch(dropped, a, b), settings.scaling);
      if (!settings.useDora) {
        result = tf.add(result, lora);
        continue;
      }
      // DoRA: y = base(x) + (m/‖W + sBA‖ − 1)·(x·W) + (m/‖W + sBA‖)·s·B(A(x)), the norm detached.
      const norm = stopGradient(this.doraNorm(a, b, settings.scaling));
      const scale = tf.div(this.magnitudes.get(name)!.read(), norm);
      const weighted = this.applyKernel(dropped, this.kernel.read());
      result = tf.add(result, tf.add(tf.mul(tf.sub(scale, 1), weighted), tf.mul(scale, lora)));
    }
    return result;
  }

  /** PEFT's _mixed_batch_forward: each row gets the adapter named for it ("__base__": none). */
  private mixedBatchCall(inputs: tf.Tensor, kwargs: Kwargs, adapterNames: readonly string[]): tf.Tensor {
    if (kwargs.training === true) throw new AdapterStateError('Cannot pass `adapterNames` when the model is in training mode.');
    const used = [...new Set(adapterNames)].filter((name) => name !== BASE_ADAPTER_NAME && this.hasAdapter(name));
    for (const name of used) {
      if (this.adapterSettings(name).useDora)
        throw new AdapterStateError(`Cannot pass \`adapterNames\` when DoRA is enabled (adapter "${name}" of layer "${this.name}" uses DoRA).`);
    }
    this.assertInitialized(used);
    if (adapterNames.length !== inputs.shape[0]) {
      throw new InvalidConfigError(`adapterNames has ${adapterNames.length} entries but the batch has ${inputs.shape[0]} rows`, { field: 'adapter_names' });
    }
    let result = this.preActivation(inputs);
    for (const name of used) {
      const settings = this.adapterSettings(name);
      const rows = tf.tensor1d(
        adapterNames.map((entry) => (entry === name ? 1 : 0)),
        'float32',
      );
      const mask = tf.reshape(rows, [adapterNames.length, ...new Array<number>(result.rank - 1).fill(1)]);
      const lora = this.loraBranch(inputs, this.loraA.get(name)!.read(), this.loraB.get(name)!.read());
      result = tf.add(result, tf.mul(tf.mul(lora, settings.scaling), mask));
    }
    return this.activate(result);
  }

  // ---- merging --------------------------------------------------------------------------------

  /** s·B·A in the kernel's tfjs layout (PEFT's get_delta_weight). The caller disposes it. */
  deltaKernel(adapterName: string): tf.Tensor {
    this.assertAdapter(adapterName);
    const { scaling } = this.adapterSettings(adapterName);
    return tf.tidy(() => tf.mul(this.deltaFromFactors(this.loraA.get(adapterName)!.read(), this.loraB.get(adapterName)!.read()), scaling));
  }

  protected mergeUpdates(adapterName: string): VariableUpdate[] {
    this.assertInitialized([adapterName]);
    const kernel = this.kernel;
    const settings = this.adapterSettings(adapterName);
    if (!settings.useDora) {
      return [{ variable: kernel, value: tf.tidy(() => tf.add(kernel.read(), this.deltaKernel(adapterName))) }];
    }
    const [value, norm] = tf.tidy(() => {
      const combined = tf.add(kernel.read(), this.deltaKernel(adapterName));
      const weightNorm = outputNorm(combined);
      return [tf.mul(combined, tf.div(this.magnitudes.get(adapterName)!.read(), weightNorm)), weightNorm];
    });
    this.weightNorms.get(adapterName)?.dispose();
    this.weightNorms.set(adapterName, norm!);
    return [{ variable: kernel, value: value! }];
  }

  protected unmergeUpdates(adapterName: string): VariableUpdate[] {
    const kernel = this.kernel;
    const settings = this.adapterSettings(adapterName);
    if (!settings.useDora) {
      return [{ variable: kernel, value: tf.tidy(() => tf.sub(kernel.read(), this.deltaKernel(adapterName))) }];
    }
    const norm = this.weightNorms.get(adapterName);
    if (!norm) throw new AdapterStateError(`no cached DoRA weight norm for adapter "${adapterName}" of layer "${this.name}"; it was not merged by this layer`);
    const value = tf.tidy(() => tf.sub(tf.div(kernel.read(), tf.div(this.magnitudes.get(adapterName)!.read(), norm)), this.deltaKernel(adapterName)));
    norm.dispose();
    this.weightNorms.delete(adapterName);
    return [{ variable: kernel, value }];
  }

  override async merge(adapterNames: readonly string[] = this.activeAdapterNames, options: { safeMerge?: boolean } = {}): Promise<void> {
    try {
      await super.merge(adapterNames, options);
    } finally {
      // A refused safe merge computed (and cached) a DoRA norm for an adapter it did not merge.
      for (const name of [...this.weightNorms.keys()]) {
        if (!this.mergedAdapterNames.includes(name)) {
          this.weightNorms.get(name)!.dispose();
          this.weightNorms.delete(name);
        }
      }
    }
  }

  // ---- factors in torch orientation (add_weighted_adapter, PiSSA) -----------------------------

  /** A `[r, fan-in]` and B `[out, r]` in torch orientation, flattened (new tensors; the caller disposes them). */
  factors(adapterName: string): LoraFactors {
    const params = this.adapterParameters(adapterName);
    const { a: aName, b: bName, suffix } = this.factorNames;
    const paramA = params.get(`${aName}.${adapterName}${suffix}`)!;
    const paramB = params.get(`${bName}.${adapterName}${suffix}`)!;
    return tf.tidy(() => {
      const a = paramA.toTorch(paramA.variable.read());
      const b = paramB.toTorch(paramB.variable.read());
      return { a: tf.reshape(a, [a.shape[0]!, -1]) as tf.Tensor2D, b: tf.reshape(b, [b.shape[0]!, -1]) as tf.Tensor2D };
    });
  }

  /** Writes A `[r, fan-in]` and B `[out, r]` (torch orientation, flattened) into an adapter. */
  setFactors(adapterName: string, factors: LoraFactors): void {
    const params = this.adapterParameters(adapterName);
    const { a: aName, b: bName, suffix } = this.factorNames;
    for (const [name, value] of [
      [`${aName}.${adapterName}${suffix}`, factors.a],
      [`${bName}.${adapterName}${suffix}`, factors.b],
    ] as const) {
      const param = params.get(name)!;
      const converted = tf.tidy(() => param.fromTorch(tf.reshape(value, [...param.torchShape])));
      param.variable.write(converted);
      converted.dispose();
    }
  }

  /** The base weight in torch orientation flattened to `[out, fan-in]` (a new tensor). */
  baseWeight(): tf.Tensor2D {
    return tf.tidy(() => this.kernelToTorch2d(this.kernel.read()));
  }

  /** Replaces the base weight from a torch-orientation `[out, fan-in]` matrix. */
  setBaseWeight(weight: tf.Tensor2D): void {
    const value = tf.tidy(() => this.kernelFromTorch2d(weight));
    this.kernel.write(value);
    value.dispose();
  }

  /** tfjs kernel (output axis last) → torch `[out, fan-in]`, fan-in flattened in torch's order. */
  protected kernelToTorch2d(kernel: tf.Tensor): tf.Tensor2D {
    return tf.transpose(kernel) as tf.Tensor2D;
  }

  protected kernelFromTorch2d(weight: tf.Tensor2D): tf.Tensor {
    return tf.transpose(weight);
  }

  /** Recomputes an adapter's DoRA magnitude from the current weights (PEFT's dora_init). */
  resetMagnitude(adapterName: string): void {
    const magnitude = this.magnitudes.get(adapterName);
    if (!magnitude) return;
    const settings = this.adapterSettings(adapterName);
    const value = tf.tidy(() => this.doraNorm(this.loraA.get(adapterName)!.read(), this.loraB.get(adapterName)!.read(), settings.scaling));
    magnitude.write(value);
    value.dispose();
  }

  /** Marks an asynchronously initialised adapter (PiSSA) as ready. */
  markInitialized(adapterName: string): void {
    const options = this.getAdapterOptions<LoraAdapterOptions>(adapterName);
    this.adapterOptions.set(adapterName, { ...options, initialized: true });
  }
}

/** The activation object of a tfjs layer (Dense, Conv2D), when it has one. */
export function layerActivation(layer: unknown): ((outputs: tf.Tensor) => tf.Tensor) | undefined {
  const activation = (layer as { activation?: { apply(outputs: tf.Tensor): tf.Tensor; getClassName?(): string } | null }).activation;
  if (!activation || activation.getClassName?.() === 'linear') return undefined;
  return (outputs) => activation.apply(outputs);
}
