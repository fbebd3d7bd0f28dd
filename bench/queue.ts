// `npm run bench:queue`: the training queue alone (functions/queue.ts) on the Firestore emulator through the real
// client: how long one dispatch takes and how many documents it reads, with 50 and with 5,000 trials waiting. The
// queue reads the slots, their holders and only as many waiting entries as slots are free, so both should stay flat
// as the backlog grows. The launcher here creates its "job" at once: only the queue's own Firestore work is timed.
import { FirestoreDocumentStore } from '../adapters/gcp/document-store.ts';
import { createLogger } from '../adapters/log.ts';
import { Emulators } from '../emulators/harness.ts';
import { dispatch, queueOrder } from '../functions/queue.ts';
import { DEFAULT_GRID } from '../shared/config.ts';
import { type QueueEntry, TrialDoc } from '../shared/documents.ts';
import { DOCS } from '../shared/names.ts';
import type { Deps, JobLauncher, Transaction } from '../shared/ports.ts';
import { readSettings } from '../shared/settings.ts';
import { runDoc } from '../test/helpers/docs.ts';

const CAPACITY = 2;
const ROUNDS = 20;
const emulators = await Emulators.start({ setProcessEnv: true });
const docs = new FirestoreDocumentStore({ projectId: emulators.env.GOOGLE_CLOUD_PROJECT });
const rows: string[] = [];

/** One run with `waiting` queued trials, written in batches (setup, not measured). */
async function seed(runId: string, waiting: number): Promise<void> {
  const t = new Date().toISOString();
  const configs = Array.from({ length: waiting }, (_, i) => `c${String(i).padStart(5, '0')}`);
  await docs.set(DOCS.run(runId), runDoc(runId, configs));
  for (let start = 0; start < waiting; start += 200) {
    const batch = docs.firestore.batch();
    for (const [i, config] of configs.slice(start, start + 200).entries()) {
      const trial = TrialDoc.parse({
        runId,
        config,
        status: 'queued',
        hyperparameters: { ...DEFAULT_GRID.configs[0]!, name: config },
        jobId: null,
        createdAt: t,
        updatedAt: t,
        startedAt: null,
        finishedAt: null,
        metrics: null,
        artifacts: null,
        error: null,
        request: {
          runId,
          config: { ...DEFAULT_GRID.configs[0]!, name: config },
          datasetUri: 'gs://b/d/',
          outputUri: 'gs://b/o/',
        },
        queueOrder: queueOrder(t, start + i),
      });
      batch.set(docs.firestore.doc(DOCS.trial(runId, config)), trial);
      batch.set(docs.firestore.doc(DOCS.queueEntry(runId, config)), {
        runId,
        config,
        order: trial.queueOrder!,
      } satisfies QueueEntry);
    }
    await batch.commit();
  }
}

/** The trials holding slots, by run. */
const started: Array<{ runId: string; config: string }> = [];

/** Ends the trials that hold the slots (setup, not measured). */
async function freeSlots(): Promise<void> {
  for (const { runId, config } of started.splice(0))
    await docs.set(DOCS.trial(runId, config), { status: 'succeeded' }, { merge: true });
}

try {
  for (const waiting of [50, 5_000]) {
    const runId = `run-queue-bench-${waiting}`;
    await seed(runId, waiting);
    const launcher: JobLauncher = {
      capacity: CAPACITY,
      launch: async (request) => {
        started.push({ runId: request.runId, config: request.config.name });
        return { jobId: `job-${request.config.name}`, started: true };
      },
      status: async () => ({ state: 'running', platformState: 'JOB_STATE_RUNNING' }),
      cancel: async () => {},
    };
    let reads = 0;
    const counted: FirestoreDocumentStore = Object.create(docs);
    counted.runTransaction = (fn) =>
      docs.runTransaction((tx) =>
        fn({
          ...tx,
          get: (path) => {
            reads++;
            return tx.get(path);
          },
          query: async (collection, q) => {
            const found = await tx.query(collection, q);
            reads += Math.max(1, found.length);
            return found;
          },
        } satisfies Transaction),
      );
    const deps: Deps = {
      docs: counted,
      launcher,
      settings: readSettings({}),
      log: createLogger({}, { write: () => {} }),
      store: undefined as never, // the queue never touches the bucket or the bus on this path
      bus: undefined as never,
    };
    const times: number[] = [];
    const readCounts: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await freeSlots();
      reads = 0;
      const t0 = performance.now();
      const n = await dispatch(deps);
      times.push(performance.now() - t0);
      readCounts.push(reads / Math.max(1, n));
      if (n !== CAPACITY) throw new Error(`round ${round}: started ${n}, expected ${CAPACITY}`);
    }
    // The next size starts from an empty queue with every slot free.
    await freeSlots();
    for (const { id } of await docs.list(DOCS.trainingQueue)) {
      await docs.firestore.doc(`${DOCS.trainingQueue}/${id}`).delete();
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    rows.push(
      `| ${waiting.toLocaleString('en')} | ${CAPACITY} | ${median(times).toFixed(0)} | ${Math.max(...times).toFixed(0)} | ${median(readCounts).toFixed(1)} |`,
    );
  }
} finally {
  await docs.firestore.terminate();
  await emulators.stop();
}
console.log(
  `training queue on the Firestore emulator, ${ROUNDS} dispatches each, ${new Date().toISOString()}`,
);
console.log(
  '| trials waiting | slots freed per dispatch | dispatch median, ms | max, ms | documents read per trial started |',
);
console.log('|---:|---:|---:|---:|---:|');
for (const row of rows) console.log(row);
