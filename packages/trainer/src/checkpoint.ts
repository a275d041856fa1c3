import { loadSafetensorsData, serializeSafetensors, type LoadedTensorData, type TensorData } from '@peftjs/hub';
import { CheckpointError } from './errors';
import { joinPath, type CheckpointStorage } from './checkpoint-storage';

export const CHECKPOINT_PREFIX = 'checkpoint-';
export const TRAINER_STATE_NAME = 'trainer_state.json';
export const TRAINABLE_STATE_NAME = 'trainable_state.safetensors';
export const OPTIMIZER_STATE_NAME = 'optimizer.safetensors';
export const TRAINER_STATE_FORMAT = 'peftjs trainer state v1';

/** Everything a checkpoint folder holds, in memory. */
export interface CheckpointContents {
  /** adapter_config.json and adapter_model.safetensors, as savePretrained writes them. */
  adapterFiles: Record<string, Uint8Array | string>;
  /** Every trainable tensor, torch layout, by key. */
  trainableState: Record<string, TensorData>;
  /** `exp_avg/<key>`, `exp_avg_sq/<key>` and `step`. */
  optimizerState: Record<string, TensorData>;
  trainerState: Record<string, unknown>;
}

/** The folder of the checkpoint after optimizer step `step`. */
export function checkpointFolder(outputDir: string, step: number): string {
  return joinPath(outputDir, `${CHECKPOINT_PREFIX}${step}`);
}

/**
 * Writes a checkpoint atomically: every file goes into a hidden temporary folder, which is then
 * renamed to `checkpoint-<step>`. A crash leaves at most a temporary folder, which no resume takes.
 */
export async function writeCheckpoint(storage: CheckpointStorage, outputDir: string, step: number, contents: CheckpointContents): Promise<string> {
  const target = checkpointFolder(outputDir, step);
  const nonce = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e9).toString(36)}`;
  const temporary = joinPath(outputDir, `.${CHECKPOINT_PREFIX}${step}.tmp-${nonce}`);
  await storage.makeFolder(temporary);
  try {
    for (const [name, data] of Object.entries(contents.adapterFiles)) await storage.writeFile(joinPath(temporary, name), data);
    await storage.writeFile(joinPath(temporary, TRAINABLE_STATE_NAME), await serializeSafetensors(contents.trainableState, { metadata: { format: 'pt' } }));
    await storage.writeFile(
      joinPath(temporary, OPTIMIZER_STATE_NAME),
      await serializeSafetensors(contents.optimizerState, { metadata: { format: 'pt' }, dtypes: 'step' in contents.optimizerState ? { step: 'I64' } : {} }),
    );
    // The trainer state last: a folder with it is complete.
    await storage.writeFile(joinPath(temporary, TRAINER_STATE_NAME), `${JSON.stringify(contents.trainerState, null, 2)}\n`);
    if (await storage.exists(target)) {
      const old = joinPath(outputDir, `.${CHECKPOINT_PREFIX}${step}.old-${nonce}`);
      await storage.rename(target, old);
      await storage.rename(temporary, target);
      await storage.remove(old);
    } else await storage.rename(temporary, target);
  } catch (error) {
    await storage.remove(temporary);
    throw error;
  }
  return target;
}

/** Steps of the complete checkpoints under `outputDir`, ascending. */
export async function listCheckpoints(storage: CheckpointStorage, outputDir: string): Promise<number[]> {
  const steps: number[] = [];
  for (const name of await storage.list(outputDir)) {
    const match = /^checkpoint-(\d+)$/.exec(name);
    if (match && (await storage.exists(joinPath(outputDir, name, TRAINER_STATE_NAME)))) steps.push(Number(match[1]));
  }
  return steps.sort((a, b) => a - b);
}

/** `latest` → the newest complete checkpoint under `outputDir`; a path stays as it is. */
export async function resolveCheckpoint(storage: CheckpointStorage, location: string, outputDir: string | undefined): Promise<string> {
  if (location !== 'latest') return location.replace(/\/+$/, '');
  if (outputDir === undefined) throw new CheckpointError('resume_from_checkpoint "latest" needs an output folder to look in');
  const steps = await listCheckpoints(storage, outputDir);
  if (steps.length === 0) throw new CheckpointError(`resume_from_checkpoint "latest": ${outputDir} holds no complete checkpoint-<step> folder`, { key: 'latest' });
  return checkpointFolder(outputDir, steps[steps.length - 1]!);
}

/** Removes the temporary folders a crash left while writing a checkpoint (never complete, never read). */
export async function removeTemporaryCheckpoints(storage: CheckpointStorage, outputDir: string): Promise<string[]> {
  const stale = (await storage.list(outputDir)).filter((name) => /^\.checkpoint-\d+\.(tmp|old)-/.test(name));
  for (const name of stale) await storage.remove(joinPath(outputDir, name));
  return stale;
}

/** Removes the oldest checkpoints beyond `limit` (0: keep all). */
export async function pruneCheckpoints(storage: CheckpointStorage, outputDir: string, limit: number): Promise<number[]> {
  if (limit <= 0) return [];
  const steps = await listCheckpoints(storage, outputDir);
  const removed = steps.slice(0, Math.max(0, steps.length - limit));
  for (const step of removed) {
    // Renamed first: a crash while removing leaves a hidden folder, never a half checkpoint.
    const doomed = joinPath(outputDir, `.${CHECKPOINT_PREFIX}${step}.old-${Date.now().toString(36)}`);
    await storage.rename(checkpointFolder(outputDir, step), doomed);
    await storage.remove(doomed);
  }
  return removed;
}

async function readRequired(storage: CheckpointStorage, folder: string, name: string): Promise<Uint8Array> {
  const path = joinPath(folder, name);
  if (!(await storage.exists(path))) throw new CheckpointError(`checkpoint ${folder} has no ${name}: it is not a complete checkpoint`, { key: name });
  return storage.readFile(path);
}

/** A checkpoint read back (its files parsed, nothing applied). */
export interface LoadedCheckpoint {
  folder: string;
  adapterConfig: Record<string, unknown>;
  trainableState: Record<string, LoadedTensorData>;
  optimizerState: Record<string, LoadedTensorData>;
  trainerState: Record<string, unknown>;
}

export async function readCheckpoint(storage: CheckpointStorage, folder: string): Promise<LoadedCheckpoint> {
  if (!(await storage.exists(folder))) throw new CheckpointError(`checkpoint ${folder} does not exist`, { key: folder });
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  let trainerState: Record<string, unknown>;
  let adapterConfig: Record<string, unknown>;
  try {
    trainerState = JSON.parse(decode(await readRequired(storage, folder, TRAINER_STATE_NAME))) as Record<string, unknown>;
    adapterConfig = JSON.parse(decode(await readRequired(storage, folder, 'adapter_config.json'))) as Record<string, unknown>;
  } catch (error) {
    if (CheckpointError.isInstance(error)) throw error;
    throw new CheckpointError(`checkpoint ${folder}: ${(error as Error).message}`, { cause: error });
  }
  if (trainerState.format !== TRAINER_STATE_FORMAT) {
    throw new CheckpointError(
      `checkpoint ${folder}: ${TRAINER_STATE_NAME} is not a peftjs trainer state (format ${JSON.stringify(trainerState.format)}, expected "${TRAINER_STATE_FORMAT}")`,
      { key: 'format' },
    );
  }
  const trainableState = await loadSafetensorsData(await readRequired(storage, folder, TRAINABLE_STATE_NAME));
  const optimizerState = await loadSafetensorsData(await readRequired(storage, folder, OPTIMIZER_STATE_NAME));
  return { folder, adapterConfig, trainableState, optimizerState, trainerState };
}
