/** One training row: token ids, and the labels scored (-100 where not; default: the ids). */
export interface TrainingExample {
  readonly inputIds: readonly number[];
  readonly labels?: readonly number[];
  /** A per-row task id for methods with per-task weights (multitask prompt tuning, Poly). */
  readonly taskId?: number;
}

/** transformers' ignore index. */
export const IGNORE_INDEX = -100;

/** A padded micro-batch, as plain arrays. */
export interface CollatedBatch {
  readonly inputIds: number[][];
  readonly attentionMask: number[][];
  readonly labels: number[][];
  readonly taskIds: number[] | undefined;
  /** Real (unpadded) tokens. */
  readonly tokens: number;
}

/** Right padding to the longest row: attention mask 0 and label -100 on the padding (HF's recipe). */
export function collate(examples: readonly TrainingExample[], padTokenId: number): CollatedBatch {
  const length = Math.max(...examples.map((example) => example.inputIds.length));
  const inputIds: number[][] = [];
  const attentionMask: number[][] = [];
  const labels: number[][] = [];
  let tokens = 0;
  for (const example of examples) {
    const padding = length - example.inputIds.length;
    inputIds.push([...example.inputIds, ...new Array<number>(padding).fill(padTokenId)]);
    attentionMask.push([...example.inputIds.map(() => 1), ...new Array<number>(padding).fill(0)]);
    labels.push([...(example.labels ?? example.inputIds), ...new Array<number>(padding).fill(IGNORE_INDEX)]);
    tokens += example.inputIds.length;
  }
  const withTasks = examples.some((example) => example.taskId !== undefined);
  return { inputIds, attentionMask, labels, taskIds: withTasks ? examples.map((example) => example.taskId ?? 0) : undefined, tokens };
}
