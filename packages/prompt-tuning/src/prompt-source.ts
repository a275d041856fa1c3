import * as tf from '@tensorflow/tfjs-core';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import type { ParamRef } from '@peftjs/core';
import type { PromptHead } from './prompt-head';
import { ownedVariable, plainParam } from './torch-init';

/** Inserts the adapter name after a parameter's module: `mlp_head.0.weight` → `p_tuning_mlp_head.default.0.weight`. */
function memoryName(methodPrefix: string, adapterName: string, local: string): string {
  const dot = local.indexOf('.');
  return `${methodPrefix}${local.slice(0, dot)}.${adapterName}${local.slice(dot)}`;
}

export interface PromptSourceArgs {
  /** The method's weight prefix (`prompt_tuning_`, `p_tuning_`, `prefix_tuning_`). */
  methodPrefix: string;
  adapterName: string;
  /** Prefix of the tfjs variable names (`<layer name>/<method prefix><adapter>.`). */
  variablePrefix: string;
  /** The virtual-token embedding's initial value `[rows, dim]` (disposed here). */
  embedding: tf.Tensor;
  /** The encoder that turns the embedding into the prompt; none for prompt tuning and in inference mode. */
  head?: PromptHead;
  /** The prompt's width when there is a head (its output size). */
  outputDim?: number;
}

/**
 * One adapter's virtual tokens, PEFT's `prompt_encoder[adapter]`: an embedding table
 * (`embedding.weight`) and, while training P-tuning or projected prefix tuning, the encoder on
 * top of it. `output()` is what PEFT's `get_prompt` uses and what `save_pretrained` writes as
 * `prompt_embeddings`. Loading saved prompt embeddings replaces the encoder by its output, as PEFT
 * does in inference mode (the file holds the encoded prompt, not the encoder).
 */
export class PromptSource {
  /** Parameters under PEFT-like in-memory names, for counting, training and trainability. */
  readonly params = new Map<string, ParamRef>();
  private embedding: LayerVariable;
  private head: PromptHead | undefined;
  private readonly outputDim: number;
  private readonly args: PromptSourceArgs;
  readonly rows: number;

  constructor(args: PromptSourceArgs) {
    this.args = args;
    const [rows, dim] = args.embedding.shape as [number, number];
    this.embedding = ownedVariable(args.embedding, `${args.variablePrefix}embedding.weight`);
    this.params.set(memoryName(args.methodPrefix, args.adapterName, 'embedding.weight'), plainParam(this.embedding));
    this.head = args.head;
    this.outputDim = args.head ? (args.outputDim ?? dim) : dim;
    if (args.head) for (const [name, param] of args.head.params) this.params.set(memoryName(args.methodPrefix, args.adapterName, name), param);
    this.rows = rows;
  }

  /** Whether an encoder still sits on the embedding. */
  get hasEncoder(): boolean {
    return this.head !== undefined;
  }

  /** The shape of `output()` and of the saved `prompt_embeddings`. */
  get shape(): [number, number] {
    return [this.rows, this.outputDim];
  }

  /** The prompt `[rows, dim]` (the encoder output while there is an encoder). */
  output(training = false): tf.Tensor2D {
    const embedding = this.embedding.read() as tf.Tensor2D;
    return this.head ? this.head.apply(embedding, training) : embedding;
  }

  /**
   * Takes saved prompt embeddings (already checked against `shape`): the encoder, if any, is
   * dropped and the values become the embedding, trainable as before. (The variables stay
   * owned by the layer that holds `params`: it disposes them with the adapter.)
   */
  load(value: tf.Tensor): void {
    if (!this.head) {
      this.embedding.write(value);
      return;
    }
    const trainable = this.embedding.trainable;
    const name = this.embedding.originalName ?? this.embedding.name;
    this.head.dispose();
    this.head = undefined;
    this.embedding.dispose();
    this.embedding = ownedVariable(value.clone(), name, trainable);
    this.params.clear();
    this.params.set(memoryName(this.args.methodPrefix, this.args.adapterName, 'embedding.weight'), plainParam(this.embedding));
  }
}
