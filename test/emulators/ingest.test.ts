// Ingest on fake-gcs-server with object versioning on: it reads the generation its event names (an upload overwritten
// after its event still trains on the bytes that event announced), and streams the dataset's large files.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirestoreDocumentStore } from '../../adapters/gcp/document-store.ts';
import { GcsObjectStore, storageClient } from '../../adapters/gcp/object-store.ts';
import { LocalMessageBus } from '../../adapters/local/message-bus.ts';
import { createLogger } from '../../adapters/log.ts';
import { Emulators, emulatorSkipReason } from '../../emulators/harness.ts';
import { ingest } from '../../functions/ingest.ts';
import { buildDataset, datasetFileBytes } from '../../shared/dataset.ts';
import { NotFoundError } from '../../shared/errors.ts';
import type { CloudEventLike, StorageObjectData } from '../../shared/events.ts';
import { DATASET_FILES, PATHS } from '../../shared/names.ts';
import type { Deps } from '../../shared/ports.ts';
import { readRun, readTrials } from '../../shared/records.ts';
import { deriveRunId } from '../../shared/run-id.ts';
import { readSettings } from '../../shared/settings.ts';
import { REFERENCE_CSV } from '../helpers/cli.ts';
import { idleLauncher } from '../helpers/deps.ts';

const skip = emulatorSkipReason();
const CSV = readFileSync(REFERENCE_CSV);

describe
  .skipIf(skip)
  .sequential('ingest reads the generation of its event (fake-gcs-server, versioned bucket)', () => {
    let emulators: Emulators;
    let deps: Deps;
    let bucket: string;

    beforeAll(async () => {
      emulators = await Emulators.start({ setProcessEnv: true });
      bucket = emulators.env.TRENDCAST_BUCKET;
      await storageClient()
        .bucket(bucket)
        .setMetadata({ versioning: { enabled: true } });
      deps = {
        store: new GcsObjectStore(bucket),
        docs: new FirestoreDocumentStore({ projectId: emulators.env.GOOGLE_CLOUD_PROJECT }),
        bus: new LocalMessageBus({ backoffMs: 5 }),
        launcher: idleLauncher,
        settings: readSettings({ TRENDCAST_MAX_UPLOAD_BYTES: '1000000' }),
        log: createLogger({}, { write: () => {} }),
      };
    }, 120_000);

    afterAll(async () => {
      await (deps?.docs as FirestoreDocumentStore | undefined)?.firestore.terminate();
      await emulators?.stop();
    });

    /** Uploads `data` to `key`; resolves to the event GCS sends for it. */
    async function upload(key: string, data: Buffer | string): Promise<CloudEventLike<StorageObjectData>> {
      const file = storageClient().bucket(bucket).file(key);
      await file.save(data, { resumable: false });
      const [metadata] = await file.getMetadata();
      return {
        id: `${key}#${metadata.generation}`,
        type: 'google.cloud.storage.object.v1.finalized',
        source: `//storage.googleapis.com/projects/_/buckets/${bucket}`,
        data: { bucket, name: key, generation: String(metadata.generation), size: String(metadata.size) },
      };
    }
    const runIdOf = (event: CloudEventLike<StorageObjectData>) =>
      deriveRunId(bucket, event.data!.name, String(event.data!.generation));

    it('the emulator keeps both generations once versioning is on', async () => {
      const [metadata] = await storageClient().bucket(bucket).getMetadata();
      expect(metadata.versioning?.enabled).toBe(true);
      const first = await upload('check/v.txt', 'one');
      await upload('check/v.txt', 'two');
      const [files] = await storageClient().bucket(bucket).getFiles({ prefix: 'check/', versions: true });
      expect(files).toHaveLength(2);
      const store = deps.store;
      const generation = String(first.data!.generation);
      expect((await store.readLimited('check/v.txt', 100, { generation })).toString()).toBe('one');
      expect((await store.readLimited('check/v.txt', 100)).toString()).toBe('two');
      await expect(store.readLimited('check/v.txt', 100, { generation: '12345' })).rejects.toThrow(
        NotFoundError,
      );
    });

    it('writeStream makes one object of many chunks, visible only once complete', async () => {
      const chunks = Array.from({ length: 300 }, (_, i) => Buffer.alloc(10_000, i % 256));
      let handed = 0;
      async function* slowly() {
        for (const chunk of chunks) {
          handed++;
          if (handed === 150) expect(await deps.store.exists('stream/big.bin')).toBe(false);
          yield chunk;
        }
      }
      await deps.store.writeStream('stream/big.bin', slowly(), 'application/octet-stream');
      expect((await deps.store.read('stream/big.bin')).equals(Buffer.concat(chunks))).toBe(true);
    });

    it('an upload overwritten before ingest reads it still ingests the generation its event names', async () => {
      const key = `${PATHS.incomingPrefix}REF.csv`;
      const event = await upload(key, CSV);
      // Overwritten before the event is handled: with a file that would fail, so reading the newest cannot pass.
      const later = await upload(key, 'Date,Open\nnot,a price file\n');
      expect(later.data!.generation).not.toBe(event.data!.generation);

      await ingest(event, deps);
      const run = (await readRun(deps.docs, runIdOf(event)))!;
      expect(run.error).toBeNull();
      expect(run.status).toBe('training');
      expect(run.source.generation).toBe(String(event.data!.generation));
      const manifest = JSON.parse(
        (await deps.store.read(PATHS.dataset(run.runId) + DATASET_FILES.manifest)).toString('utf8'),
      );
      expect(manifest.source.sha256).toBe(
        (await import('node:crypto')).createHash('sha256').update(CSV).digest('hex'),
      );
      // The streamed files are whole, byte for byte what the dataset builds.
      const built = buildDataset({ bytes: CSV, fileName: 'REF.csv' });
      for (const name of [DATASET_FILES.X, DATASET_FILES.features] as const) {
        const stored = await deps.store.read(PATHS.dataset(run.runId) + name);
        expect(stored.equals(datasetFileBytes(built.files[name]))).toBe(true);
      }

      // The newer generation is its own run, and fails on its own bytes.
      await ingest(later, deps);
      const second = (await readRun(deps.docs, runIdOf(later)))!;
      expect(second.status).toBe('failed');
      expect(second.error).toMatch(/REF\.csv/);
    });

    it('refuses an event whose size is over the limit before reading anything (its generation does not exist)', async () => {
      const event: CloudEventLike<StorageObjectData> = {
        id: 'big',
        type: 'google.cloud.storage.object.v1.finalized',
        source: `//storage.googleapis.com/projects/_/buckets/${bucket}`,
        data: { bucket, name: `${PATHS.incomingPrefix}BIG.csv`, generation: '777', size: '1000001' },
      };
      await ingest(event, deps);
      const run = (await readRun(deps.docs, runIdOf(event)))!;
      expect(run.status).toBe('failed');
      expect(run.error).toBe(
        'incoming/BIG.csv: 1000001 bytes is over the upload limit of 1000000 bytes (TRENDCAST_MAX_UPLOAD_BYTES)',
      );
    });

    it('refuses a CSV stored with Content-Encoding: gzip (the client would unpack it past the limit), nothing queued', async () => {
      // 20 MiB of CSV rows gzip to about 60 KB: under the 1 MB limit as stored, 20 times over it unpacked.
      const rows = `${CSV.toString('utf8').split('\n').slice(1, 3).join('\n')}\n`;
      const csv = Buffer.concat([CSV, Buffer.from(rows.repeat(Math.ceil((20 * 1024 * 1024) / rows.length)))]);
      const key = `${PATHS.incomingPrefix}GZ.csv`;
      const file = storageClient().bucket(bucket).file(key);
      await file.save(gzipSync(csv), { resumable: false, metadata: { contentEncoding: 'gzip' } });
      const [metadata] = await file.getMetadata();
      expect(Number(metadata.size)).toBeLessThan(1_000_000);
      const event: CloudEventLike<StorageObjectData> = {
        id: 'gz',
        type: 'google.cloud.storage.object.v1.finalized',
        source: `//storage.googleapis.com/projects/_/buckets/${bucket}`,
        data: { bucket, name: key, generation: String(metadata.generation), size: String(metadata.size) },
      };
      await ingest(event, deps);
      const run = (await readRun(deps.docs, runIdOf(event)))!;
      expect(run.status).toBe('failed');
      expect(run.error).toBe(
        'incoming/GZ.csv: stored with Content-Encoding: gzip; upload the file itself, uncompressed (no gsutil cp -z/-Z, no gzip: true)',
      );
      expect(await readTrials(deps.docs, runIdOf(event))).toEqual([]);
      expect(await deps.store.list(PATHS.dataset(runIdOf(event)))).toEqual([]);
    });
  });
