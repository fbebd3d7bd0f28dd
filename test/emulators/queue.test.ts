// The training queue (functions/queue.ts) on the Firestore emulator through the real client: the same code the unit
// tests run on the local store, here with Firestore's own transactions, retries on contention and queries.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirestoreDocumentStore } from '../../adapters/gcp/document-store.ts';
import { Emulators, emulatorSkipReason } from '../../emulators/harness.ts';
import { collector } from '../../functions/collector.ts';
import { ingest } from '../../functions/ingest.ts';
import { dispatch } from '../../functions/queue.ts';
import { sweeper } from '../../functions/sweeper.ts';
import { DEFAULT_GRID } from '../../shared/config.ts';
import { DOCS } from '../../shared/names.ts';
import type { Deps } from '../../shared/ports.ts';
import { readTrial, readTrials } from '../../shared/records.ts';
import { deriveRunId } from '../../shared/run-id.ts';
import { REFERENCE_CSV } from '../helpers/cli.ts';
import { localDeps, objectFinalized } from '../helpers/deps.ts';
import { succeeded } from '../helpers/docs.ts';
import { TestPlatform } from '../helpers/platform.ts';

const skip = emulatorSkipReason();

describe.skipIf(skip).sequential('the training queue on the Firestore emulator', () => {
  let emulators: Emulators;
  let docs: FirestoreDocumentStore;

  beforeAll(async () => {
    emulators = await Emulators.start({ setProcessEnv: true });
    docs = new FirestoreDocumentStore({ projectId: emulators.env.GOOGLE_CLOUD_PROJECT });
  });

  afterAll(async () => {
    await docs?.firestore.terminate();
    await emulators?.stop();
  });

  /** A run of `configs` trials ingested onto Firestore (the bucket and the bus are local: not under test here). */
  async function queued(platform: TestPlatform, configs: number, name: string) {
    const local = localDeps({ prefix: 'fs-queue-', launcher: platform, delivery: { backoffMs: 1 } });
    const deps: Deps = { ...local, docs };
    const grid = {
      ...DEFAULT_GRID,
      configs: Array.from({ length: configs }, (_, i) => ({ ...DEFAULT_GRID.configs[0]!, name: `c${i}` })),
    };
    const object = `incoming/${name}.csv`;
    await local.store.write(`incoming/${name}.grid.json`, JSON.stringify(grid));
    await local.store.write(object, readFileSync(REFERENCE_CSV));
    const quota = platform.gpuQuota;
    platform.gpuQuota = 0; // ingest publishes to a bus nobody serves; nothing starts until the test dispatches
    await ingest(objectFinalized(object), deps);
    platform.gpuQuota = quota;
    return { deps, runId: deriveRunId('local', object, '1') };
  }

  it('six dispatchers at once over 12 waiting trials and 3 slots: each trial launched once, never more than 3', async () => {
    const platform = new TestPlatform(3);
    const { deps, runId } = await queued(platform, 12, 'burst');
    await Promise.all(Array.from({ length: 6 }, () => dispatch(deps)));
    expect((await readTrials(docs, runId)).filter((t) => t.status === 'training')).toHaveLength(3);
    // Every running job reports, its collector frees the slot and dispatches, several at once, to the end.
    for (let round = 0; round < 40; round++) {
      const running = platform.runningJobs;
      if (running.length === 0) break;
      await Promise.all(
        running.map(async (jobId) => {
          const config = jobId.slice(`job-${runId}-`.length);
          platform.end(jobId, { state: 'succeeded', platformState: 'JOB_STATE_SUCCEEDED' });
          const data = Buffer.from(
            JSON.stringify(succeeded(runId, config, { f1: 0.6 }, deps.store.baseUri)),
          ).toString('base64');
          await collector(
            { id: jobId, type: 'messagePublished', source: 'test', data: { message: { data } } },
            deps,
          );
        }),
      );
    }
    const trials = await readTrials(docs, runId);
    expect(trials.filter((t) => t.status === 'succeeded')).toHaveLength(12);
    expect(platform.launches).toHaveLength(12);
    expect(new Set(platform.launches).size).toBe(12);
    expect(platform.maxRunning).toBe(3);
    expect(await docs.query(DOCS.trainingQueue, { orderBy: 'order' })).toEqual([]);
  });

  it('a launcher that died after creating the job: the sweep records the job it finds by name', async () => {
    const platform = new TestPlatform(1);
    const { deps, runId } = await queued(platform, 2, 'crash');
    platform.crashAfterCreate = 1;
    void dispatch(deps); // its launch never returns
    for (let i = 0; i < 500 && platform.jobs.size === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect((await readTrial(docs, runId, 'c0'))!.status).toBe('starting');
    await sweeper(deps, { staleStartMs: 0 });
    expect((await readTrial(docs, runId, 'c0'))!).toMatchObject({
      status: 'training',
      jobId: `job-${runId}-c0`,
    });
    expect((await readTrial(docs, runId, 'c1'))!.status).toBe('queued');
    expect(platform.jobs.size).toBe(1);
  });
});
