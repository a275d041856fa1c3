import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { UsageError } from './usage-error';

/**
 * Checks, before any long work, that a command can write its output folder: the path is a folder
 * or can be made one (its nearest existing ancestor is a writable folder).
 */
export async function checkOutputFolder(path: string, flag = '--out'): Promise<void> {
  const absolute = resolve(path);
  const stats = await stat(absolute).catch(() => undefined);
  if (stats && !stats.isDirectory()) throw new UsageError(`${flag} ${path} is a file, not a folder; give a folder to write into`);
  let existing = stats ? absolute : dirname(absolute);
  let existingStats = await stat(existing).catch(() => undefined);
  while (!existingStats) {
    existing = dirname(existing);
    existingStats = await stat(existing).catch(() => undefined);
  }
  if (!existingStats.isDirectory()) throw new UsageError(`${flag} ${path} cannot be made: ${existing} is a file`);
  await access(existing, constants.W_OK).catch((error: unknown) => {
    throw new UsageError(`${flag} ${path} cannot be written: ${existing} is not writable`, { cause: error });
  });
}
