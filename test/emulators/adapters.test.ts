// The Google Cloud adapters against real protocol peers: fake-gcs-server, the Pub/Sub emulator, the Firestore emulator.

import { gzipSync } from 'node:zlib';
import { Firestore } from '@google-cloud/firestore';
import { type Message, PubSub } from '@google-cloud/pubsub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirestoreDocumentStore } from '../../adapters/gcp/document-store.ts';
import { PubSubMessageBus } from '../../adapters/gcp/message-bus.ts';
import { GcsObjectStore, storageClient } from '../../adapters/gcp/object-store.ts';
import { Emulators, emulatorSkipReason, sessionPids } from '../../emulators/harness.ts';
import { InputError } from '../../shared/errors.ts';
import { expectOrderedQueriesAndDeletes } from '../helpers/document-store.ts';

const skip = emulatorSkipReason();

describe.skipIf(skip).sequential('Google Cloud adapters on the emulators', () => {
  let emulators: Emulators;
  let store: GcsObjectStore;
  let pubsub: PubSub;
  let bus: PubSubMessageBus;
  let docs: FirestoreDocumentStore;

  beforeAll(async () => {
    emulators = await Emulators.start({ setProcessEnv: true });
    store = new GcsObjectStore(emulators.env.TRENDCAST_BUCKET);
    pubsub = new PubSub({ projectId: emulators.env.GOOGLE_CLOUD_PROJECT });
    bus = new PubSubMessageBus(emulators.env.GOOGLE_CLOUD_PROJECT);
    docs = new FirestoreDocumentStore({ projectId: emulators.env.GOOGLE_CLOUD_PROJECT });
  });

  // Also runs when a test failed; closing twice is harmless.
  afterAll(async () => {
    await Promise.allSettled([bus?.close(), pubsub?.close(), docs?.firestore.terminate()]);
    await emulators?.stop();
  });

  describe('GcsObjectStore', () => {
    it('writes, reads, lists sorted by prefix, copies and deletes', async () => {
      expect(store.baseUri).toBe(`gs://${emulators.env.TRENDCAST_BUCKET}/`);
      await store.write('t1/b.txt', 'bee');
      await store.write('t1/a/x.bin', Buffer.from([0, 1, 2, 255]));
      await store.write('t10/c.txt', 'not under t1/');
      expect(await store.list('t1/')).toEqual(['t1/a/x.bin', 't1/b.txt']);
      expect([...(await store.read('t1/a/x.bin'))]).toEqual([0, 1, 2, 255]);
      expect(await store.exists('t1/b.txt')).toBe(true);
      expect(await store.exists('t1/nope')).toBe(false);

      await store.copy('t1/b.txt', 't2/copied.txt');
      expect((await store.read('t2/copied.txt')).toString()).toBe('bee');
      await store.delete('t1/b.txt');
      await store.delete('t1/b.txt'); // deleting what is gone is not an error
      expect(await store.exists('t1/b.txt')).toBe(false);
      expect(await store.list('t1/')).toEqual(['t1/a/x.bin']);
    });

    it('sets the content type it is given', async () => {
      await store.write('t3/data.json', '{}', 'application/json');
      const [metadata] = await storageClient()
        .bucket(emulators.env.TRENDCAST_BUCKET)
        .file('t3/data.json')
        .getMetadata();
      expect(metadata.contentType).toBe('application/json');
    });

    it('readLimited refuses an object over the limit, and a missing object, with InputError', async () => {
      await store.write('t4/big.csv', 'x'.repeat(1000));
      expect((await store.readLimited('t4/big.csv', 1000)).length).toBe(1000);
      await expect(store.readLimited('t4/big.csv', 999)).rejects.toThrow(InputError);
      await expect(store.readLimited('t4/big.csv', 999)).rejects.toThrow(
        /1000 bytes is over the upload limit/,
      );
      await expect(store.readLimited('t4/missing.csv', 999)).rejects.toThrow(/no such object/);
    });

    it('reads raw bytes: an object stored with Content-Encoding: gzip is refused, never unpacked past the limit', async () => {
      // 20 MB of text gzips to about 20 KB: the stored size passes any limit, the unpacked size would not.
      const unpacked = 20 * 1024 * 1024;
      const file = storageClient().bucket(emulators.env.TRENDCAST_BUCKET).file('t4/bomb.csv');
      await file.save(gzipSync(Buffer.alloc(unpacked, 'x')), {
        resumable: false,
        metadata: { contentEncoding: 'gzip', contentType: 'text/csv' },
      });
      const [metadata] = await file.getMetadata();
      expect(Number(metadata.size)).toBeLessThan(100_000);
      // The hazard itself: the client's default download() unpacks it.
      expect((await file.download())[0].length).toBe(unpacked);

      await expect(store.readLimited('t4/bomb.csv', 1_000_000)).rejects.toThrow(InputError);
      await expect(store.readLimited('t4/bomb.csv', 1_000_000)).rejects.toThrow(
        /t4\/bomb\.csv: stored with Content-Encoding: gzip; upload the file itself, uncompressed/,
      );
      const raw = await store.read('t4/bomb.csv');
      expect(raw.length).toBe(Number(metadata.size));
      expect([raw[0], raw[1]]).toEqual([0x1f, 0x8b]);
    });

    it('a reader sees the old object or the new one, never a part of either', async () => {
      const SIZE = 512 * 1024;
      // Each version is one letter repeated: a partial object is short, a mixed one holds two letters.
      const versions = 'abcdefgh'.split('').map((c) => Buffer.alloc(SIZE, c));
      await store.write('t5/obj', versions[0]!);
      let writing = 0;
      let done = false;
      let readsDuringWrites = 0;
      const torn: string[] = [];
      const seen = new Set<string>();
      const reader = (async () => {
        while (!done) {
          const overlapped = writing > 0;
          const data = await store.read('t5/obj');
          if (overlapped || writing > 0) readsDuringWrites++;
          if (data.length !== SIZE || !data.every((b) => b === data[0]))
            torn.push(`${data.length} bytes, ${new Set(data).size} letters`);
          seen.add(String.fromCharCode(data[0]!));
        }
      })();
      for (const version of versions.slice(1)) {
        writing++;
        await store.write('t5/obj', version);
        writing--;
        await new Promise((r) => setTimeout(r, 20)); // let a read land between writes too
      }
      done = true;
      await reader;
      expect(torn).toEqual([]);
      expect(readsDuringWrites).toBeGreaterThan(0); // the reads really overlapped the writes
      expect(seen.size).toBeGreaterThan(1); // and saw the object change
    });
  });

  describe('PubSubMessageBus', () => {
    it('publishes JSON with attributes; a pull subscription receives it', async () => {
      const [topic] = await pubsub.createTopic('adapter-test');
      const [subscription] = await topic.createSubscription('adapter-test-pull');
      const id = await bus.publish(
        'adapter-test',
        { runId: 'r1', n: 3, nested: { ok: true } },
        { runId: 'r1' },
      );
      expect(id).toMatch(/\S/);
      const received = await new Promise<Message>((resolve, reject) => {
        subscription.once('message', resolve);
        subscription.once('error', reject);
      });
      received.ack();
      await subscription.close();
      expect(received.id).toBe(id);
      expect(JSON.parse(received.data.toString('utf8'))).toEqual({ runId: 'r1', n: 3, nested: { ok: true } });
      expect(received.attributes).toEqual({ runId: 'r1' });
    });

    it('creates nothing: publishing to a topic that does not exist fails', async () => {
      await expect(bus.publish('no-such-topic', { x: 1 })).rejects.toThrow(/not found|NOT_FOUND/i);
      const [exists] = await pubsub.topic('no-such-topic').exists();
      expect(exists).toBe(false);
    });
  });

  describe('FirestoreDocumentStore', () => {
    it('create is create-if-absent: false, and nothing written, when the document exists', async () => {
      expect(await docs.create('runs/c1', { status: 'ingesting', n: 1 })).toBe(true);
      expect(await docs.create('runs/c1', { status: 'other', n: 2 })).toBe(false);
      expect(await docs.get('runs/c1')).toEqual({ status: 'ingesting', n: 1 });
      expect(await docs.get('runs/absent')).toBeUndefined();
    });

    it('set replaces; merge replaces whole top-level fields, as the local store does', async () => {
      await docs.set('runs/m1', { a: 1, nested: { x: 1, y: 2 } });
      await docs.set('runs/m1', { b: 2, nested: { z: 3 } }, { merge: true });
      expect(await docs.get('runs/m1')).toEqual({ a: 1, b: 2, nested: { z: 3 } });
      await docs.set('runs/m1', { b: 3, skipped: undefined }, { merge: true });
      expect(await docs.get('runs/m1')).toEqual({ a: 1, b: 3, nested: { z: 3 } });
      await docs.set('runs/m1', { only: true });
      expect(await docs.get('runs/m1')).toEqual({ only: true });
    });

    it('lists a collection, and a subcollection, sorted by id', async () => {
      await docs.set('runs/l1/trials/b', { config: 'b' });
      await docs.set('runs/l1/trials/a', { config: 'a' });
      await docs.set('runs/l1/trials/c', { config: 'c' });
      expect((await docs.list('runs/l1/trials')).map((d) => d.id)).toEqual(['a', 'b', 'c']);
      expect((await docs.list('runs/l1/trials')).map((d) => d.data)).toEqual([
        { config: 'a' },
        { config: 'b' },
        { config: 'c' },
      ]);
      expect(await docs.list('runs/none/trials')).toEqual([]);
    });

    it('transactions with concurrent contenders lose no update', async () => {
      await docs.set('counters/t1', { n: 0 });
      // Separate clients, as separate function instances would be.
      const clients = Array.from(
        { length: 4 },
        () => new FirestoreDocumentStore({ projectId: emulators.env.GOOGLE_CLOUD_PROJECT }),
      );
      await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          clients[i % clients.length]!.runTransaction(async (tx) => {
            const current = await tx.get('counters/t1');
            tx.set('counters/t1', { n: Number(current?.n ?? 0) + 1 });
          }),
        ),
      );
      expect(await docs.get('counters/t1')).toEqual({ n: 12 });
      await Promise.all(clients.map((c) => c.firestore.terminate()));
    });

    it('exactly one of many simultaneous transactions decides (the collector’s promotion rule)', async () => {
      await docs.set('runs/d1', { status: 'training', decidedBy: null });
      const decided = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          docs.runTransaction(async (tx) => {
            const run = await tx.get('runs/d1');
            const trials = await tx.list('runs/d1/trials');
            if (run?.status !== 'training') return false;
            tx.set('runs/d1', { status: 'promoted', decidedBy: i, trials: trials.length }, { merge: true });
            tx.create(`runs/d1/decisions/${i}`, { by: i });
            return true;
          }),
        ),
      );
      expect(decided.filter(Boolean).length).toBe(1);
      expect((await docs.list('runs/d1/decisions')).length).toBe(1);
    });

    it('queries in order with a limit, inside a transaction too, and deletes in a transaction', async () => {
      await expectOrderedQueriesAndDeletes(docs);
    });

    it('a transaction whose create hits an existing document commits none of its writes', async () => {
      await docs.set('runs/x1', { v: 1 });
      await docs.set('runs/x2', { v: 1 });
      await expect(
        docs.runTransaction(async (tx) => {
          tx.set('runs/x1', { v: 2 });
          tx.create('runs/x2', { v: 2 });
        }),
      ).rejects.toThrow();
      expect(await docs.get('runs/x1')).toEqual({ v: 1 });
      expect(await docs.get('runs/x2')).toEqual({ v: 1 });
    });

    it('accepts a Firestore instance', async () => {
      const firestore = new Firestore({ projectId: emulators.env.GOOGLE_CLOUD_PROJECT });
      const other = new FirestoreDocumentStore(firestore);
      expect(other.firestore).toBe(firestore);
      expect(await other.get('runs/c1')).toEqual({ status: 'ingesting', n: 1 });
      await firestore.terminate();
    });
  });

  it('stop() leaves no emulator process behind', async () => {
    const sessions = emulators.sessions;
    expect(sessions.length).toBe(3);
    expect(sessions.every((sid) => sessionPids(sid).length > 0)).toBe(true);
    await bus.close();
    await pubsub.close();
    await docs.firestore.terminate();
    await emulators.stop();
    expect(sessions.flatMap((sid) => sessionPids(sid))).toEqual([]);
    for (const url of [emulators.env.STORAGE_EMULATOR_HOST, `http://${emulators.env.PUBSUB_EMULATOR_HOST}`]) {
      await expect(fetch(url, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
    }
  });
});
