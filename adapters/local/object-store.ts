import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { InputError, NotFoundError } from '../../shared/errors.ts';
import type { ObjectStore } from '../../shared/ports.ts';

/** A folder laid out like the bucket. Writes go to a temporary file first and are renamed into place. */
export class LocalObjectStore implements ObjectStore {
  readonly root: string;
  readonly baseUri: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.baseUri = `${pathToFileURL(this.root).href}/`;
  }

  private file(key: string): string {
    const file = resolve(this.root, key);
    if (file !== this.root && !file.startsWith(this.root + sep))
      throw new InputError(`object key escapes the store: ${key}`);
    return file;
  }

  read(key: string): Promise<Buffer> {
    return readFile(this.file(key)).catch((e: NodeJS.ErrnoException) => {
      throw e.code === 'ENOENT'
        ? new NotFoundError(`${this.baseUri}${key}: no such object`, { cause: e })
        : e;
    });
  }

  /**
   * A folder keeps one version of each object, so `generation` is not looked up: the embedded platform derives an
   * upload's generation from the bytes it finalizes (cli/embedded.ts), and the file holds those bytes until replaced.
   */
  async readLimited(key: string, maxBytes: number, _options?: { generation?: string }): Promise<Buffer> {
    const handle = await open(this.file(key), 'r').catch((e: NodeJS.ErrnoException) => {
      throw e.code === 'ENOENT'
        ? new NotFoundError(`${this.baseUri}${key}: no such object`, { cause: e })
        : e;
    });
    try {
      const { size } = await handle.stat();
      if (size > maxBytes)
        throw new InputError(`${key}: ${size} bytes is over the upload limit of ${maxBytes} bytes`);
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }

  async write(key: string, data: Buffer | string): Promise<void> {
    const file = this.file(key);
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${randomUUID()}.tmp`;
    await writeFile(tmp, data);
    await rename(tmp, file);
  }

  async writeStream(key: string, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<void> {
    const file = this.file(key);
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${randomUUID()}.tmp`;
    try {
      await pipeline(Readable.from(chunks, { objectMode: false }), createWriteStream(tmp));
      await rename(tmp, file);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.file(key))).isFile();
    } catch {
      return false;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        const full = join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (entry.isFile() && !entry.name.endsWith('.tmp'))
          keys.push(relative(this.root, full).split(sep).join('/'));
      }
    };
    // Walk only the folder part of the prefix, then filter on the whole prefix.
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    await walk(this.file(folder));
    return keys.filter((k) => k.startsWith(prefix)).sort();
  }

  async copy(fromKey: string, toKey: string): Promise<void> {
    const to = this.file(toKey);
    await mkdir(dirname(to), { recursive: true });
    const tmp = `${to}.${randomUUID()}.tmp`;
    await copyFile(this.file(fromKey), tmp);
    await rename(tmp, to);
  }

  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }
}
