// `npm run bench:emulators -- --csvs N --max-jobs M --epochs E [--json]`: N CSVs dropped at once into the emulated
// cloud (emulators/cloud.ts: the Pub/Sub and Firestore emulators, fake-gcs-server, the local Vertex AI service running
// the real trainer, several instances per function), each a distinct symbol made from the sample, through the real
// clients; it ends when every run is decided. It reports what the control plane did at that scale: trials, jobs
// created, trials left unfinished, dead letters, the most jobs alive at once on the Vertex AI service, the time from
// the drop to the last decision, and the Firestore reads and writes the functions made per trial.
// The default grid with every config capped at E epochs, full-size LSTMs. With --json the last line is one object.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FirestoreDocumentStore } from '../adapters/gcp/document-store.ts';
import { createLogger } from '../adapters/log.ts';
import { startEmulatedCloud } from '../emulators/cloud.ts';
import { DEFAULT_GRID } from '../shared/config.ts';
import { FINAL_RUN_STATUSES, FINAL_TRIAL_STATUSES } from '../shared/documents.ts';
import { gridKeyFor, PATHS } from '../shared/names.ts';
import type { DocumentStore, Transaction } from '../shared/ports.ts';
import { readRun, readTrials } from '../shared/records.ts';
import { REFERENCE_CSV } from '../test/helpers/cli.ts';

const { values } = parseArgs({
  options: {
    csvs: { type: 'string', default: '1' },
    'max-jobs': { type: 'string', default: '1' },
    epochs: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
  },
});
const csvs = Number(values.csvs);
const maxJobs = Number(values['max-jobs']);
const epochs = Number(values.epochs);
for (const [name, n] of Object.entries({ '--csvs': csvs, '--max-jobs': maxJobs, '--epochs': epochs }))
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: "${n}" is not a whole number of at least 1`);

const grid = { ...DEFAULT_GRID, configs: DEFAULT_GRID.configs.map((c) => ({ ...c, epochs })) };
const csv = readFileSync(REFERENCE_CSV);
const say = (line: string) => {
  if (!values.json) console.log(line);
};

/** Counts the documents the functions read and the writes they make (a retried transaction counts again, as billed). */
function countOperations(docs: DocumentStore) {
  const counts = { reads: 0, writes: 0 };
  const read = async <T>(result: Promise<T[]>) => {
    const docsRead = await result;
    counts.reads += Math.max(1, docsRead.length); // an empty query is billed one read
    return docsRead;
  };
  const { get, list, query, set, create, runTransaction } = {
    get: docs.get.bind(docs),
    list: docs.list.bind(docs),
    query: docs.query.bind(docs),
    set: docs.set.bind(docs),
    create: docs.create.bind(docs),
    runTransaction: docs.runTransaction.bind(docs),
  };
  docs.get = (path) => {
    counts.reads++;
    return get(path);
  };
  docs.list = (collection) => read(list(collection));
  docs.query = (collection, q) => read(query(collection, q));
  docs.set = (path, data, options) => {
    counts.writes++;
    return set(path, data, options);
  };
  docs.create = (path, data) => {
    counts.writes++;
    return create(path, data);
  };
  docs.runTransaction = (fn) =>
    runTransaction((tx) =>
      fn({
        get: (path) => {
          counts.reads++;
          return tx.get(path);
        },
        list: (collection) => read(tx.list(collection)),
        query: (collection, q) => read(tx.query(collection, q)),
        set: (path, data, options) => {
          counts.writes++;
          tx.set(path, data, options);
        },
        create: (path, data) => {
          counts.writes++;
          tx.create(path, data);
        },
        delete: (path) => {
          counts.writes++;
          tx.delete(path);
        },
      } satisfies Transaction),
    );
  return counts;
}

const cloud = await startEmulatedCloud({
  maxJobs,
  gpuQuota: maxJobs,
  sweepEveryMs: 5_000,
  log: createLogger({}, { write: () => {} }),
});
try {
  const counts = countOperations(cloud.deps.docs);
  // The bench watches through a client of its own, so its polling is not counted as the functions' reads.
  const watcher = new FirestoreDocumentStore({ projectId: cloud.emulators.env.GOOGLE_CLOUD_PROJECT });
  const keys = Array.from(
    { length: csvs },
    (_, i) => `${PATHS.incomingPrefix}Quote-Equity-BENCH${String(i).padStart(4, '0')}-EQ-scale.csv`,
  );
  for (const key of keys) await cloud.upload(gridKeyFor(key), JSON.stringify(grid));
  say(
    `dropping ${csvs} CSVs at once, ${grid.configs.length} trials each, ${maxJobs} jobs at once, ${epochs} epochs`,
  );
  const dropped = performance.now();
  const runIds = await Promise.all(keys.map((key) => cloud.upload(key, csv)));
  let decidedAt = dropped;
  let decided = 0;
  const timeoutMs = 4 * 3600_000;
  while (performance.now() - dropped < timeoutMs) {
    const runs = await Promise.all(runIds.map((id) => readRun(watcher, id)));
    const now = runs.filter((r) => r && FINAL_RUN_STATUSES.has(r.status)).length;
    if (now > decided) decidedAt = performance.now();
    if (now !== decided)
      say(`${((performance.now() - dropped) / 1000).toFixed(0)} s: ${now} of ${csvs} decided`);
    decided = now;
    if (decided === csvs) break;
    await new Promise((r) => setTimeout(r, 2_000));
  }
  // Let the last decisions' forecasts and reports settle before counting the trials and jobs.
  await new Promise((r) => setTimeout(r, 3_000));

  const trials = (await Promise.all(runIds.map((id) => readTrials(watcher, id)))).flat();
  const finalRuns = await Promise.all(runIds.map((id) => readRun(watcher, id)));
  const project = cloud.emulators.env.GOOGLE_CLOUD_PROJECT;
  const jobs = cloud.vertex.jobs.list(project, cloud.deps.settings.TRENDCAST_REGION, '', 100_000, '').jobs;
  const launchesPerTrial = new Map<string, number>();
  for (const job of jobs)
    launchesPerTrial.set(job.displayName!, (launchesPerTrial.get(job.displayName!) ?? 0) + 1);
  // The most jobs alive on the service at once (QUEUED, PENDING, RUNNING: from creation to end), from its own times.
  const ms = (t: { seconds?: unknown; nanos?: unknown } | null | undefined) =>
    t ? Number(t.seconds) * 1000 + Number(t.nanos ?? 0) / 1e6 : Number.POSITIVE_INFINITY;
  const edges = jobs.flatMap((j) => [
    { at: ms(j.createTime), d: 1 },
    { at: ms(j.endTime), d: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.d - b.d);
  let alive = 0;
  let maxConcurrentJobs = 0;
  for (const e of edges) {
    alive += e.d;
    maxConcurrentJobs = Math.max(maxConcurrentJobs, alive);
  }
  const failedDeliveries = cloud.deliveries.filter((d) => d.status >= 300);
  const result = {
    csvs,
    maxJobs,
    epochs,
    decided,
    runs: Object.fromEntries(
      ['promoted', 'rejected', 'failed'].map((s) => [s, finalRuns.filter((r) => r?.status === s).length]),
    ),
    trials: trials.length,
    trialsFailed: trials.filter((t) => t.status === 'failed').length,
    launches: jobs.length,
    trialsLaunchedTwice: [...launchesPerTrial.values()].filter((n) => n > 1).length,
    stranded: trials.filter((t) => !FINAL_TRIAL_STATUSES.has(t.status)).length,
    deadLetters: cloud.deliveries.filter((d) => d.target === 'deadLetter').length,
    failedDeliveries: failedDeliveries.length,
    /** Events refused for want of a free instance (429, retried by Pub/Sub), by function. */
    refusedNoInstance: Object.fromEntries(
      [...new Set(failedDeliveries.map((d) => d.target))].map((target) => [
        target,
        failedDeliveries.filter((d) => d.target === target && d.status === 429).length,
      ]),
    ),
    maxConcurrentJobs,
    seconds: Math.round((decidedAt - dropped) / 100) / 10,
    firestoreReadsPerTrial: Math.round((counts.reads / trials.length) * 10) / 10,
    firestoreWritesPerTrial: Math.round((counts.writes / trials.length) * 10) / 10,
    date: new Date().toISOString(),
  };
  await watcher.firestore.terminate();
  if (values.json) console.log(JSON.stringify(result));
  else console.log(result);
} finally {
  await cloud.stop();
}
