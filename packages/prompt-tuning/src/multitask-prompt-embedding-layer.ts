import * as tf from '@tensorflow/tfjs-core';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import { currentForwardContext, InvalidConfigError, TunerLayer, type ParamRef } from '@peftjs/core';
import { PromptEmbedding, type PromptEmbeddingOptions } from './prompt-embedding-layer';
import type { PromptLayerArgs } from './prompt-learning-layer';
import { ownedVariable, plainParam } from './torch-init';

/** One adapter of a MultitaskPromptEmbedding layer. */
export interface MultitaskPromptEmbeddingOptions extends PromptEmbeddingOptions {
  numTasks: number;
  numRanks: number;
}

/** PEFT's in-memory names of the task factors (`prompt_encoder.<adapter>.prefix_task_cols`), with the method's prefix. */
export function taskColsName(methodPrefix: string, adapterName: string): string {
  return `${methodPrefix}prefix_task_cols.${adapterName}`;
}
export function taskRowsName(methodPrefix: string, adapterName: string): string {
  return `${methodPrefix}prefix_task_rows.${adapterName}`;
}

/**
 * The task ids of the current forward pass (one per row), checked: PEFT raises when they are
 * missing ("task_ids cannot be None"), and an id outside `[0, num_tasks)` would index nothing.
 */
export function currentTaskIds(peftType: string, batch: number, numTasks: number): readonly number[] {
  const taskIds = currentForwardContext()?.taskIds;
  if (!taskIds) {
    throw new InvalidConfigError(
      `${peftType} needs one task id per row (PEFT: task_ids cannot be None): pass { taskIds } to peftModel.predict(), generate() or forwardCausalLm(), or --task-ids to the CLI`,
      { field: 'task_ids' },
    );
  }
  if (taskIds.length !== batch) throw new InvalidConfigError(`taskIds has ${taskIds.length} entries but the batch has ${batch} rows`, { field: 'task_ids' });
  const bad = taskIds.find((id) => !Number.isInteger(id) || id < 0 || id >= numTasks);
  if (bad !== undefined)
    throw new InvalidConfigError(`task id ${bad} is out of range: the adapter has num_tasks ${numTasks} (valid ids 0..${numTasks - 1})`, { field: 'task_ids' });
  return taskIds;
}

/**
 * Multitask prompt tuning on the word embedding (PEFT's MultitaskPromptEmbedding): the shared
 * prompt `prompt_embeddings` `[T, dim]` times (element-wise) a rank-`num_ranks` task matrix
 * `prefix_task_cols[t] @ prefix_task_rows[t]` `[T, dim]`, chosen per row by its task id, then
 * prepended as prompt tuning does. PEFT rebuilds this product on every call (there is no
 * inference-mode shortcut), and so does this layer.
 */
export class MultitaskPromptEmbedding extends PromptEmbedding {
  static override className = 'MultitaskPromptEmbedding';
  private readonly factors = new Map<string, { cols: LayerVariable; rows: LayerVariable }>();

  constructor(args: PromptLayerArgs) {
    super(args);
  }

  protected override createAdapter(adapterName: string, rawOptions: unknown): Map<string, ParamRef> {
    const params = super.createAdapter(adapterName, rawOptions);
    const options = rawOptions as MultitaskPromptEmbeddingOptions;
    const { numTasks, numRanks, totalVirtualTokens, tokenDim, methodPrefix } = options;
    // PEFT: torch.normal(0, 0.02) for both factors (their product starts near zero).
    const cols = ownedVariable(tf.randomNormal([numTasks, totalVirtualTokens, numRanks], 0, 0.02, 'float32'), `${this.name}/${methodPrefix}${adapterName}.prefix_task_cols`);
    const rows = ownedVariable(tf.randomNormal([numTasks, numRanks, tokenDim], 0, 0.02, 'float32'), `${this.name}/${methodPrefix}${adapterName}.prefix_task_rows`);
    this.factors.set(adapterName, { cols, rows });
    params.set(taskColsName(methodPrefix, adapterName), plainParam(cols));
    params.set(taskRowsName(methodPrefix, adapterName), plainParam(rows));
    return params;
  }

  /** The adapter's task factors (`prefix_task_cols`, `prefix_task_rows`), torch layout. */
  taskFactors(adapterName: string): { cols: ParamRef; rows: ParamRef } {
    this.assertAdapter(adapterName);
    const { cols, rows } = this.factors.get(adapterName)!;
    return { cols: plainParam(cols), rows: plainParam(rows) };
  }

  protected override onAdapterDeleted(adapterName: string): void {
    super.onAdapterDeleted(adapterName);
    this.factors.delete(adapterName);
  }

  protected override virtualTokens(adapterName: string, rawOptions: PromptEmbeddingOptions, batch: number, training: boolean): tf.Tensor {
    const options = rawOptions as MultitaskPromptEmbeddingOptions;
    const { numTasks, numRanks, totalVirtualTokens, numVirtualTokens, tokenDim } = options;
    const taskIds = currentTaskIds(this.peftType, batch, numTasks);
    const { cols, rows } = this.factors.get(adapterName)!;
    // index_select by task as a one-hot product: the same values, and a gradient every backend has.
    // (tf.oneHot needs a depth of 2 or more; with one task every row picks it.)
    const pick = numTasks === 1 ? tf.ones([batch, 1]) : tf.cast(tf.oneHot(tf.tensor1d([...taskIds], 'int32'), numTasks), 'float32');
    const taskCols = tf.reshape(tf.matMul(pick, tf.reshape(cols.read(), [numTasks, totalVirtualTokens * numRanks])), [batch, totalVirtualTokens, numRanks]);
    const taskRows = tf.reshape(tf.matMul(pick, tf.reshape(rows.read(), [numTasks, numRanks * tokenDim])), [batch, numRanks, tokenDim]);
    const prompts = tf.mul(tf.expandDims(this.promptSource(adapterName).output(training), 0), tf.matMul(taskCols, taskRows));
    return tf.slice(prompts, [0, 0, 0], [batch, numVirtualTokens, tokenDim]);
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new MultitaskPromptEmbedding({ ...args, peftType: config.peftType as string }), config) as unknown as T;
  }
}
