import * as tf from '@tensorflow/tfjs-core';
import { LayerVariable, type layers } from '@tensorflow/tfjs-layers';
import { AdapterStateError, currentForwardContext, MergeError, permutedParam, TunerLayer, type ParamRef, type TunerLayerArgs, type VariableUpdate } from '@peftjs/core';
import { ADAPTION_PROMPT_PEFT_TYPE } from './adaption-prompt-config';
import { isAttentionCore, KEY_VALUE_CACHE_LAYER, type RotaryAttentionCore } from './attention-conventions';

type Kwargs = Record<string, unknown>;
type Shape = Array<number | null>;

/** One adapter of an AdaptedAttention layer (plain JSON, serialized with the layer). */
export interface AdaptedAttentionOptions {
  adapterLen: number;
  hiddenSize: number;
  /** The attention module's path (`model.layers.1.self_attn`): where PEFT's saved keys live. */
  modulePath: string;
}

/** The projections an adapted attention applies to its prompt, as PEFT calls the wrapped module's own. */
export interface AttentionProjections {
  readonly kProj: layers.Layer;
  readonly vProj: layers.Layer;
  readonly oProj: layers.Layer;
}

/** PEFT's in-memory names: `adaption_prompt` / `adaption_gate`, made unique per adapter. */
export function promptParamName(adapterName: string): string {
  return `adaption_prompt.${adapterName}`;
}
export function gateParamName(adapterName: string): string {
  return `adaption_gate.${adapterName}`;
}

/** A trainable variable made from `value` (which is disposed: LayerVariable copies it). */
function ownedVariable(value: tf.Tensor, name: string): LayerVariable {
  const variable = new LayerVariable(value, 'float32', name, true);
  value.dispose();
  return variable;
}

function rotateHalf(x: tf.Tensor): tf.Tensor {
  const half = x.shape[x.rank - 1]! / 2;
  const [first, second] = tf.split(x, [half, half], -1) as [tf.Tensor, tf.Tensor];
  return tf.concat([tf.neg(second), first], -1);
}

/**
 * PEFT's AdaptedAttention (LLaMA-Adapter) around one attention core. The attention itself runs
 * unchanged; then, as PEFT 0.11.1 computes it for Llama and Mistral:
 *
 * - `k = k_proj(P)`, `v = v_proj(P)` for the learned prompt `P` `[1, adapter_len, hidden]`, with
 *   NO rotary embedding, viewed as `num_heads / factor` heads (`factor = k_proj.in // k_proj.out`)
 *   and repeated (`repeat_interleave`) to every query head;
 * - `q = RoPE(q_proj(x))` at the tokens' own positions (the core's cos/sin inputs, so also the
 *   new positions of a KV-cached generation step);
 * - `s = gate · softmax(q kᵀ / sqrt(head_dim))` over the adapter tokens only — a softmax of its
 *   own in float32, with no causal or padding mask — and `out += o_proj(s v)`.
 *
 * The adapter term is added before `o_proj` (the wrapped core's output feeds it), which is the
 * same sum for a bias-free `o_proj`; with a biased one the `AdaptedOutputProjection` wrapper adds
 * the second bias PEFT's two `o_proj` calls give. The gate starts at zero, so a fresh adapter
 * leaves the model unchanged. One adapter runs at a time, and nothing merges (as in PEFT).
 */
export class AdaptedAttention extends TunerLayer {
  static className = 'AdaptedAttention';
  readonly peftType = ADAPTION_PROMPT_PEFT_TYPE;
  readonly [KEY_VALUE_CACHE_LAYER] = true;
  private projections: AttentionProjections | undefined;
  private readonly prompts = new Map<string, LayerVariable>();
  private readonly gates = new Map<string, LayerVariable>();

  constructor(args: TunerLayerArgs & { projections?: AttentionProjections }) {
    super(args);
    if (!isAttentionCore(args.baseLayer)) {
      throw new AdapterStateError(
        `adaption prompts need an attention core that takes q/k/v and rotary tables; "${args.baseLayer.name}" (${args.baseLayer.getClassName()}) is not one`,
      );
    }
    this.projections = args.projections;
  }

  private get core(): RotaryAttentionCore {
    return this.baseLayer as unknown as RotaryAttentionCore;
  }

  get numKeyValueHeads(): number {
    return this.core.numKeyValueHeads;
  }

  get headDim(): number {
    return this.core.headDim;
  }

  get baseInputCount(): number {
    return this.core.baseInputCount;
  }

  /** Points the layer at the module's k/v/o projections (done by the tuner when it wraps the core). */
  setProjections(projections: AttentionProjections): void {
    this.projections = projections;
  }

  protected createAdapter(adapterName: string, rawOptions: unknown): Map<string, ParamRef> {
    const options = rawOptions as AdaptedAttentionOptions;
    // PEFT: the prompt starts as normal(0, 1) (the official LLaMA-Adapter's Embedding init), the gate at zero.
    const prompt = ownedVariable(tf.randomNormal([1, options.adapterLen, options.hiddenSize], 0, 1, 'float32'), `${this.name}/adaption_prompt.${adapterName}`);
    const gate = ownedVariable(tf.zeros([1], 'float32'), `${this.name}/adaption_gate.${adapterName}`);
    this.prompts.set(adapterName, prompt);
    this.gates.set(adapterName, gate);
    return new Map([
      [promptParamName(adapterName), permutedParam(prompt)],
      [gateParamName(adapterName), permutedParam(gate)],
    ]);
  }

  protected override onAdapterDeleted(adapterName: string): void {
    this.prompts.delete(adapterName);
    this.gates.delete(adapterName);
  }

  override setActiveAdapters(adapterNames: readonly string[]): void {
    if (adapterNames.length > 1) {
      throw new AdapterStateError(`ADAPTION_PROMPT runs one adapter at a time (as PEFT's AdaptionPromptModel); got ${adapterNames.join(', ')}`);
    }
    super.setActiveAdapters(adapterNames);
  }

  protected mergeUpdates(): VariableUpdate[] {
    throw new MergeError('ADAPTION_PROMPT adapters cannot be merged: the adapter attention depends on each input (PEFT 0.11.1 has no merge for adaption prompts)');
  }

  protected unmergeUpdates(): VariableUpdate[] {
    return [];
  }

  /** The adapter that runs in this forward pass, if any. */
  activeAdapterName(): string | undefined {
    if (this.disabledFlag || this.activeAdapterNames.length === 0) return undefined;
    if (currentForwardContext()?.adapterNames) {
      throw new AdapterStateError('ADAPTION_PROMPT cannot run a mixed-adapter batch (adapterNames): PEFT swaps whole attention modules per adapter');
    }
    return this.activeAdapterNames[0];
  }

  protected adaptedCall(input: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    return this.call([input], kwargs) as tf.Tensor;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    return tf.tidy(() => {
      const list = Array.isArray(inputs) ? inputs : [inputs];
      const base = this.baseLayer.call(list, kwargs) as tf.Tensor | tf.Tensor[];
      const adapterName = this.activeAdapterName();
      if (adapterName === undefined) return base;
      const output = Array.isArray(base) ? base[0]! : base;
      const [q, , , , cos, sin] = list as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      const adapted = tf.add(output, this.adapterOutput(adapterName, q, cos, sin));
      return Array.isArray(base) ? [adapted, ...base.slice(1)] : adapted;
    });
  }

  /** `s v` with heads merged, `[batch, seq, heads·headDim]`: what PEFT feeds to o_proj. */
  private adapterOutput(adapterName: string, q: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
    const projections = this.projections;
    if (!projections) {
      throw new AdapterStateError(
        `adapted attention "${this.name}" has no k/v/o projections (a layer rebuilt from JSON cannot find them); load the adapter onto the model with fromPretrained instead`,
      );
    }
    const { numHeads, headDim } = this.core;
    const options = this.getAdapterOptions<AdaptedAttentionOptions>(adapterName);
    const [batch, seq] = q.shape as [number, number, number];
    const length = options.adapterLen;
    const prompt = this.prompts.get(adapterName)!.read();
    const key = projections.kProj.apply(prompt) as tf.Tensor;
    const value = projections.vProj.apply(prompt) as tf.Tensor;
    // PEFT: factor = k_proj.in_features // k_proj.out_features; the prompt's keys have num_heads // factor heads.
    const factor = Math.floor(options.hiddenSize / key.shape[2]!);
    const promptHeads = Math.floor(numHeads / factor);
    if (factor < 1 || promptHeads * factor !== numHeads || promptHeads * headDim !== key.shape[2]) {
      throw new AdapterStateError(
        `adapted attention "${this.name}": k_proj gives ${key.shape[2]} features, which PEFT 0.11.1 cannot view as ${numHeads} / ${factor} heads of ${headDim}`,
      );
    }
    const heads = (projected: tf.Tensor) => {
      const split = tf.transpose(tf.reshape(projected, [1, length, promptHeads, headDim]), [0, 2, 1, 3]);
      // repeat_interleave(factor, dim=1): query head h reads prompt head floor(h / factor).
      // (A rank-3 tile: tfjs has gradients for tile up to rank 4, and gather's needs a kernel wasm lacks.)
      const repeated = factor === 1 ? split : tf.reshape(tf.tile(tf.reshape(split, [promptHeads, 1, length * headDim]), [1, factor, 1]), [1, numHeads, length, headDim]);
      return tf.tile(repeated, [batch, 1, 1, 1]);
    };
    const adapterKey = heads(key);
    const adapterValue = heads(value);
    const queries = tf.transpose(tf.reshape(q, [batch, seq, numHeads, headDim]), [0, 2, 1, 3]);
    const cos4 = tf.expandDims(cos, 1);
    const sin4 = tf.expandDims(sin, 1);
    const rotated = tf.add(tf.mul(queries, cos4), tf.mul(rotateHalf(queries), sin4));
    const scores = tf.div(tf.matMul(rotated, adapterKey, false, true), Math.sqrt(headDim));
    const weights = tf.mul(this.gates.get(adapterName)!.read(), tf.softmax(scores, -1));
    const context = tf.matMul(weights, adapterValue);
    return tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [batch, seq, numHeads * headDim]);
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    return this.baseLayer.computeOutputShape(inputShape);
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new AdaptedAttention(args), config) as unknown as T;
  }
}
