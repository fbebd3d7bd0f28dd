import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { LocalDocumentStore } from '../../adapters/local/document-store.ts';
import { LocalMessageBus } from '../../adapters/local/message-bus.ts';
import { LocalObjectStore } from '../../adapters/local/object-store.ts';
import { expectOrderedQueriesAndDeletes } from '../helpers/document-store.ts';

const temp = (p: string) => mkdtempSync(join(tmpdir(), p));

describe('LocalDocumentStore', () => {
  it('creates a document only if it is absent', async () => {
    const docs = new LocalDocumentStore(temp('docs-'));
    expect(await docs.create('runs/a', { v: 1 })).toBe(true);
    expect(await docs.create('runs/a', { v: 2 })).toBe(false);
    expect(await docs.get('runs/a')).toEqual({ v: 1 });
  });

  it('lists a collection without its subcollections and merges fields', async () => {
    const docs = new LocalDocumentStore(temp('docs-'));
    await docs.set('runs/a', { x: 1, y: 1 });
    await docs.set('runs/a/trials/t1', { s: 'queued' });
    await docs.set('runs/a', { y: 2 }, { merge: true });
    expect(await docs.list('runs')).toEqual([{ id: 'a', data: { x: 1, y: 2 } }]);
    expect((await docs.list('runs/a/trials')).map((d) => d.id)).toEqual(['t1']);
  });

  it('queries in order with a limit, inside a transaction too, and deletes in a transaction', async () => {
    await expectOrderedQueriesAndDeletes(new LocalDocumentStore(temp('docs-')));
  });

  it('refuses paths that are not documents or escape the folder', async () => {
    const docs = new LocalDocumentStore(temp('docs-'));
    await expect(docs.set('runs', {})).rejects.toThrow(/not a document path/);
    await expect(docs.set('runs/../../etc', {})).rejects.toThrow(/not a document path/);
  });

  it('serializes transactions in one process: 40 concurrent increments give 40', async () => {
    const docs = new LocalDocumentStore(temp('docs-'));
    await Promise.all(
      Array.from({ length: 40 }, () =>
        docs.runTransaction(async (tx) => {
          const doc = await tx.get('counters/c');
          tx.set('counters/c', { n: Number(doc?.n ?? 0) + 1 });
        }),
      ),
    );
    expect(await docs.get('counters/c')).toEqual({ n: 40 });
  });

  it('is safe when two processes share one home: 2 × 30 increments give 60', async () => {
    const root = temp('docs-');
    const script = join(import.meta.dirname, '../helpers/increment.ts');
    const run = () => promisify(execFile)(process.execPath, ['--import', 'tsx', script, root, '30']);
    await Promise.all([run(), run()]);
    expect(await new LocalDocumentStore(root).get('counters/c')).toEqual({ n: 60 });
  });

  it('finishes a transaction that a crash cut short, from its journal', async () => {
    const root = temp('docs-');
    const docs = new LocalDocumentStore(root);
    await docs.set('runs/a', { status: 'training' });
    // A holder died after writing its journal, before applying it.
    writeFileSync(
      join(root, 'journal.json'),
      JSON.stringify([
        { path: 'runs/a', data: { status: 'promoted' }, mode: 'set' },
        { path: 'models/m', data: { version: 1 }, mode: 'set' },
      ]),
    );
    await docs.set('other/x', {});
    expect(await docs.get('runs/a')).toEqual({ status: 'promoted' });
    expect(await docs.get('models/m')).toEqual({ version: 1 });
  });

  it('commits nothing when the transaction function throws', async () => {
    const docs = new LocalDocumentStore(temp('docs-'));
    await expect(
      docs.runTransaction(async (tx) => {
        tx.set('runs/a', { v: 1 });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await docs.get('runs/a')).toBeUndefined();
  });
});

describe('LocalMessageBus', () => {
  it('redelivers with backoff until the handler succeeds', async () => {
    const bus = new LocalMessageBus({ backoffMs: 1 });
    let calls = 0;
    bus.subscribe('t', async (event) => {
      calls++;
      expect(JSON.parse(Buffer.from(event.data!.message.data!, 'base64').toString())).toEqual({ hello: 1 });
      if (calls < 3) throw new Error('not yet');
    });
    await bus.publish('t', { hello: 1 });
    await bus.idle();
    expect(calls).toBe(3);
  });

  it('sends a message that keeps failing to the dead-letter topic after the configured attempts', async () => {
    const bus = new LocalMessageBus({ backoffMs: 1, maxAttempts: 4 });
    let calls = 0;
    bus.subscribe('t', async () => {
      calls++;
      throw new Error('always');
    });
    await bus.publish('t', { n: 1 });
    await bus.idle();
    expect(calls).toBe(4);
    expect(bus.published.get('t-dead-letter')).toEqual([{ n: 1 }]);
  });
});

describe('LocalObjectStore', () => {
  it('writes, lists, copies and refuses keys that escape the folder', async () => {
    const store = new LocalObjectStore(temp('bucket-'));
    await store.write('a/b/c.txt', 'hello');
    await store.copy('a/b/c.txt', 'd/c.txt');
    expect(await store.list('a/')).toEqual(['a/b/c.txt']);
    expect((await store.read('d/c.txt')).toString()).toBe('hello');
    expect(store.baseUri).toMatch(/^file:\/\/\/.*\/$/);
    await expect(store.write('../evil.txt', 'x')).rejects.toThrow(/escapes the store/);
  });

  it('refuses an object over the size limit before reading it', async () => {
    const store = new LocalObjectStore(temp('bucket-'));
    await store.write('big.csv', Buffer.alloc(2000));
    await expect(store.readLimited('big.csv', 1000)).rejects.toThrow(
      /2000 bytes is over the upload limit of 1000/,
    );
    expect((await store.readLimited('big.csv', 2000)).length).toBe(2000);
  });

  it('writeStream lands the chunks as one object once complete, and nothing when the chunks fail', async () => {
    const store = new LocalObjectStore(temp('bucket-'));
    const chunks = Array.from({ length: 50 }, (_, i) => Buffer.alloc(1000, i));
    async function* slowly(failAt?: number) {
      for (const [i, chunk] of chunks.entries()) {
        if (i === 25) expect(await store.exists('d/x.npy')).toBe(false);
        if (i === failAt) throw new Error('the producer broke');
        yield chunk;
      }
    }
    await expect(store.writeStream('d/x.npy', slowly(30))).rejects.toThrow(/the producer broke/);
    expect(await store.exists('d/x.npy')).toBe(false);
    expect(readdirSync(join(store.root, 'd'))).toEqual([]); // no temporary file left behind
    await store.writeStream('d/x.npy', slowly());
    expect((await store.read('d/x.npy')).equals(Buffer.concat(chunks))).toBe(true);
    expect(readdirSync(join(store.root, 'd'))).toEqual(['x.npy']);
  });
});
