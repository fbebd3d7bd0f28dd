import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { DocumentQuery, DocumentStore, Transaction } from '../../shared/ports.ts';

type Doc = Record<string, unknown>;
type Write = { path: string; data: Doc; mode: 'set' | 'merge' | 'create' | 'delete' };

const JOURNAL = 'journal.json';
const LOCK = '.lock';
const STALE_LOCK_MS = 30_000;

/**
 * Documents as JSON files under a folder (`runs/abc.json`, `runs/abc/trials/x.json`).
 * Every write holds a lock folder (mkdir is atomic, so two processes sharing one home exclude each other);
 * a transaction's writes go to a journal first and are replayed by the next holder if a crash cuts them short,
 * so they commit together or not at all. Written by hand: no maintained npm package offers a file-backed,
 * multi-process, transactional store without a native build.
 */
export class LocalDocumentStore implements DocumentStore {
  private readonly root: string;
  /** Serializes this process's own lock holders; the lock folder excludes other processes. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(root: string) {
    this.root = resolve(root);
  }

  private file(path: string): string {
    const segments = path.split('/');
    if (segments.length % 2 !== 0 || segments.some((s) => !s || s === '.' || s === '..')) {
      throw new Error(`not a document path: ${path}`);
    }
    return `${join(this.root, ...segments)}.json`;
  }

  private async readDoc(path: string): Promise<Doc | undefined> {
    try {
      return JSON.parse(await readFile(this.file(path), 'utf8')) as Doc;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  private async listDocs(collection: string): Promise<Array<{ id: string; data: Doc }>> {
    const segments = collection.split('/');
    if (segments.length % 2 !== 1) throw new Error(`not a collection path: ${collection}`);
    let names: string[];
    try {
      names = await readdir(join(this.root, ...segments));
    } catch {
      return [];
    }
    const ids = names
      .filter((n) => n.endsWith('.json'))
      .map((n) => n.slice(0, -5))
      .sort();
    const docs: Array<{ id: string; data: Doc }> = [];
    for (const id of ids) {
      const data = await this.readDoc(`${collection}/${id}`);
      if (data !== undefined) docs.push({ id, data });
    }
    return docs;
  }

  private async writeFileAtomic(file: string, text: string): Promise<void> {
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${randomUUID()}.tmp`;
    await writeFile(tmp, text);
    await rename(tmp, file);
  }

  private async apply(writes: Write[]): Promise<void> {
    for (const w of writes) {
      if (w.mode === 'delete') {
        await rm(this.file(w.path), { force: true });
        continue;
      }
      const data = w.mode === 'merge' ? { ...((await this.readDoc(w.path)) ?? {}), ...w.data } : w.data;
      await this.writeFileAtomic(this.file(w.path), JSON.stringify(data, null, 2));
    }
  }

  /** Holds the store's lock while `fn` runs; finishes a journal a crashed holder left behind. */
  private withLock<R>(fn: () => Promise<R>): Promise<R> {
    const run = async (): Promise<R> => {
      await mkdir(this.root, { recursive: true });
      const lock = join(this.root, LOCK);
      for (let attempt = 0; ; attempt++) {
        try {
          await mkdir(lock);
          await writeFile(join(lock, 'owner'), String(process.pid));
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          if (await isStale(lock)) await rm(lock, { recursive: true, force: true });
          else await new Promise((r) => setTimeout(r, Math.min(50, 2 + attempt)));
        }
      }
      try {
        const journal = join(this.root, JOURNAL);
        const pending = await readFile(journal, 'utf8').catch(() => undefined);
        if (pending !== undefined) {
          await this.apply(JSON.parse(pending) as Write[]);
          await rm(journal, { force: true });
        }
        return await fn();
      } finally {
        await rm(lock, { recursive: true, force: true });
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async commit(writes: Write[]): Promise<void> {
    if (writes.length === 0) return;
    if (writes.length === 1) return this.apply(writes);
    const journal = join(this.root, JOURNAL);
    await this.writeFileAtomic(journal, JSON.stringify(writes));
    await this.apply(writes);
    await rm(journal, { force: true });
  }

  get(path: string): Promise<Doc | undefined> {
    return this.readDoc(path);
  }

  list(collection: string): Promise<Array<{ id: string; data: Doc }>> {
    return this.listDocs(collection);
  }

  /** A scan of the collection: the local store has no indexes (Firestore answers the same query from one). */
  private async queryDocs(
    collection: string,
    query: DocumentQuery,
  ): Promise<Array<{ id: string; data: Doc }>> {
    const key = (d: { data: Doc }) => String(d.data[query.orderBy] ?? '');
    const { where } = query;
    const matching = (await this.listDocs(collection))
      .filter((d) => !where || where.in.includes(d.data[where.field]))
      .filter((d) => query.startAt === undefined || key(d) >= query.startAt)
      .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    return query.limit === undefined ? matching : matching.slice(0, query.limit);
  }

  query(collection: string, query: DocumentQuery): Promise<Array<{ id: string; data: Doc }>> {
    return this.queryDocs(collection, query);
  }

  create(path: string, data: Doc): Promise<boolean> {
    return this.withLock(async () => {
      if ((await this.readDoc(path)) !== undefined) return false;
      await this.commit([{ path, data, mode: 'create' }]);
      return true;
    });
  }

  set(path: string, data: Doc, options: { merge?: boolean } = {}): Promise<void> {
    return this.withLock(() => this.commit([{ path, data, mode: options.merge ? 'merge' : 'set' }]));
  }

  runTransaction<R>(fn: (tx: Transaction) => Promise<R>): Promise<R> {
    return this.withLock(async () => {
      const writes: Write[] = [];
      const tx: Transaction = {
        get: (path) => {
          if (writes.length) throw new Error('transaction reads must come before its writes');
          return this.readDoc(path);
        },
        list: (collection) => {
          if (writes.length) throw new Error('transaction reads must come before its writes');
          return this.listDocs(collection);
        },
        query: (collection, query) => {
          if (writes.length) throw new Error('transaction reads must come before its writes');
          return this.queryDocs(collection, query);
        },
        set: (path, data, options = {}) => {
          this.file(path);
          writes.push({ path, data, mode: options.merge ? 'merge' : 'set' });
        },
        create: (path, data) => {
          this.file(path);
          writes.push({ path, data, mode: 'create' });
        },
        delete: (path) => {
          this.file(path);
          writes.push({ path, data: {}, mode: 'delete' });
        },
      };
      const result = await fn(tx);
      for (const w of writes) {
        if (w.mode === 'create' && (await this.readDoc(w.path)) !== undefined) {
          throw new Error(`document already exists: ${w.path}`);
        }
      }
      await this.commit(writes);
      return result;
    });
  }
}

/** A lock is stale when its owner process is gone, or it has no owner file and is older than STALE_LOCK_MS. */
async function isStale(lock: string): Promise<boolean> {
  try {
    const owner = Number(await readFile(join(lock, 'owner'), 'utf8'));
    if (owner > 0) {
      try {
        process.kill(owner, 0);
        return false;
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === 'ESRCH';
      }
    }
  } catch {
    // no owner file yet: its creator may be between mkdir and writeFile
  }
  try {
    return Date.now() - (await stat(lock)).mtimeMs > STALE_LOCK_MS;
  } catch {
    return false;
  }
}
