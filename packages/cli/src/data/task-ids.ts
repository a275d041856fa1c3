import { UsageError } from '../util/usage-error';
import type { DataRow } from './read-rows';

const INTEGER = /^\d+$/;

/**
 * A data row's `"task_ids"` (Poly, multitask prompt tuning): one non-negative integer per row, as
 * PEFT's fixtures and recipes give it (`{"input_ids": [...], "task_ids": 2}`); a one-element list
 * and a CSV cell's text are taken too. Undefined when the row has none.
 */
export function rowTaskId(row: DataRow, where: string): number | undefined {
  let value = row.task_ids;
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value) && value.length === 1) value = value[0];
  if (typeof value === 'string' && INTEGER.test(value.trim())) value = Number(value.trim());
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new UsageError(`${where}: "task_ids" must be one non-negative integer (the row's task), got ${JSON.stringify(row.task_ids)}`);
  }
  return value;
}

/** The task ids of a batch of examples: one per row, or none; a batch that mixes both is refused. */
export function batchTaskIds(examples: ReadonlyArray<{ taskId?: number }>): number[] | undefined {
  const withTask = examples.filter((example) => example.taskId !== undefined).length;
  if (withTask === 0) return undefined;
  if (withTask !== examples.length)
    throw new UsageError(`${examples.length - withTask} of ${examples.length} rows in a batch have no "task_ids"; give every row its task, or none`);
  return examples.map((example) => example.taskId!);
}

/**
 * The CLI's `--task-ids`: a JSON list with one task id per row (`'[0, 2]'`), or one integer for
 * every row. The count is checked against the batch.
 */
export function parseTaskIdsFlag(text: string | undefined, batch: number): number[] | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`--task-ids must be JSON: a list with one task id per row, e.g. '[0, 2]', or one integer; got ${JSON.stringify(text)}`);
  }
  const ids = typeof value === 'number' ? new Array<number>(batch).fill(value) : value;
  if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'number' || !Number.isInteger(id) || id < 0)) {
    throw new UsageError(`--task-ids must hold non-negative integers, e.g. '[0, 2]'; got ${text}`);
  }
  if (ids.length !== batch) throw new UsageError(`--task-ids has ${ids.length} entries but the batch has ${batch} rows (one task id per prompt row)`);
  return ids as number[];
}
