/**
 * Where checkpoints go: a small file-system surface, so the engine itself needs no `node:` module.
 * Paths are '/'-separated. `@peftjs/trainer/node` has the Node implementation; `MemoryStorage`
 * keeps files in memory (browsers, tests).
 */
export interface CheckpointStorage {
  writeFile(path: string, data: Uint8Array | string): Promise<void>;
  readFile(path: string): Promise<Uint8Array>;
  /** Names of the entries directly inside a folder; [] when it does not exist. */
  list(folder: string): Promise<string[]>;
  exists(path: string): Promise<boolean>;
  makeFolder(path: string): Promise<void>;
  /** Renames a folder; the target must not exist. Atomic where the platform allows. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file or a folder with everything in it; nothing when it does not exist. */
  remove(path: string): Promise<void>;
}

export function joinPath(...parts: string[]): string {
  return parts
    .filter((part) => part !== '')
    .join('/')
    .replace(/\/{2,}/g, '/');
}

/** Checkpoints in memory: for the browser (offer them as downloads) and for tests. */
export class MemoryStorage implements CheckpointStorage {
  readonly files = new Map<string, Uint8Array>();
  private readonly folders = new Set<string>();

  private static normalize(path: string): string {
    return path.replace(/\/+$/, '').replace(/\/{2,}/g, '/');
  }

  async writeFile(path: string, data: Uint8Array | string): Promise<void> {
    const normalized = MemoryStorage.normalize(path);
    this.files.set(normalized, typeof data === 'string' ? new TextEncoder().encode(data) : new Uint8Array(data));
    const parts = normalized.split('/');
    for (let index = 1; index < parts.length; index++) this.folders.add(parts.slice(0, index).join('/'));
  }

  async readFile(path: string): Promise<Uint8Array> {
    const data = this.files.get(MemoryStorage.normalize(path));
    if (!data) throw new Error(`${path} does not exist`);
    return data;
  }

  async list(folder: string): Promise<string[]> {
    const prefix = `${MemoryStorage.normalize(folder)}/`;
    const names = new Set<string>();
    for (const path of [...this.files.keys(), ...this.folders]) if (path.startsWith(prefix)) names.add(path.slice(prefix.length).split('/')[0]!);
    return [...names].sort();
  }

  async exists(path: string): Promise<boolean> {
    const normalized = MemoryStorage.normalize(path);
    return this.files.has(normalized) || this.folders.has(normalized);
  }

  async makeFolder(path: string): Promise<void> {
    const parts = MemoryStorage.normalize(path).split('/');
    for (let index = 1; index <= parts.length; index++) this.folders.add(parts.slice(0, index).join('/'));
  }

  async rename(from: string, to: string): Promise<void> {
    const source = MemoryStorage.normalize(from);
    const target = MemoryStorage.normalize(to);
    if (await this.exists(target)) throw new Error(`${to} already exists`);
    const move = (path: string) => (path === source ? target : path.startsWith(`${source}/`) ? target + path.slice(source.length) : path);
    for (const [path, data] of [...this.files]) {
      this.files.delete(path);
      this.files.set(move(path), data);
    }
    for (const path of [...this.folders]) {
      this.folders.delete(path);
      this.folders.add(move(path));
    }
  }

  async remove(path: string): Promise<void> {
    const normalized = MemoryStorage.normalize(path);
    for (const key of [...this.files.keys()]) if (key === normalized || key.startsWith(`${normalized}/`)) this.files.delete(key);
    for (const key of [...this.folders]) if (key === normalized || key.startsWith(`${normalized}/`)) this.folders.delete(key);
  }
}
