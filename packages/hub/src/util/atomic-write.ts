import type { FileHandle } from 'node:fs/promises';

// Node modules are imported lazily so that importing `@peftjs/hub` in a browser does not fail;
// only the functions that touch the file system need them.

/**
 * Writes a file atomically: the content goes to a temporary file in the same folder, is flushed
 * to disk, then renamed over `path`. A crash or an error leaves either the old file or the new
 * one, never a partial one; the temporary file is removed on error. Creates the folder if needed.
 */
export async function writeFileAtomic(path: string, write: (handle: FileHandle) => Promise<void>): Promise<void> {
  const { mkdir, open, rename, rm } = await import('node:fs/promises');
  const { basename, dirname, join } = await import('node:path');
  const { randomBytes } = await import('node:crypto');
  const folder = dirname(path);
  await mkdir(folder, { recursive: true });
  const temporary = join(folder, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temporary, 'wx');
  try {
    await write(handle);
    await handle.sync();
    await handle.close();
    await rename(temporary, path);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Writes bytes or text (UTF-8) to `path` atomically. */
export async function writeFileAtomicContent(path: string, content: Uint8Array | string): Promise<void> {
  await writeFileAtomic(path, async (handle) => {
    await handle.writeFile(content);
  });
}
