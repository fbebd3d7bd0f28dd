// `npm run bench:emulators`: the reference CSV dropped into the emulated cloud (emulators/cloud.ts: the Pub/Sub and
// Firestore emulators, fake-gcs-server, the local Vertex AI service running the real trainer), time from the drop to
// the run's decision, with one training slot and with three, and the Pub/Sub deliveries each trial took.
// The default grid with every config capped at BENCH_EPOCHS epochs (default 2), full-size LSTMs.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { createLogger } from '../adapters/log.ts';
import { startEmulatedCloud } from '../emulators/cloud.ts';
import { DEFAULT_GRID } from '../shared/config.ts';
import { gridKeyFor, PATHS } from '../shared/names.ts';
import { REFERENCE_CSV } from '../test/helpers/cli.ts';

const EPOCHS = Number(process.env.BENCH_EPOCHS ?? 2);
const grid = { ...DEFAULT_GRID, configs: DEFAULT_GRID.configs.map((c) => ({ ...c, epochs: EPOCHS })) };
const rows: string[] = [];

for (const maxJobs of [1, 3]) {
  const cloud = await startEmulatedCloud({
    maxJobs,
    gpuQuota: maxJobs,
    sweepEveryMs: 5_000,
    log: createLogger({}, { write: () => {} }),
  });
  try {
    const key = `${PATHS.incomingPrefix}${basename(REFERENCE_CSV)}`;
    await cloud.upload(gridKeyFor(key), JSON.stringify(grid));
    const started = performance.now();
    const runId = await cloud.upload(key, readFileSync(REFERENCE_CSV));
    const run = await cloud.waitForRun(runId, 1_800_000);
    const seconds = (performance.now() - started) / 1000;
    const count = (target: string) => cloud.deliveries.filter((d) => d.target === target).length;
    const trials = grid.configs.length;
    rows.push(
      `| ${maxJobs} | ${seconds.toFixed(1)} | ${run.status} | ${(count('launcher') / trials).toFixed(2)} | ` +
        `${(count('collector') / trials).toFixed(2)} | ${count('deadLetter')} | ${cloud.deliveries.filter((d) => d.status >= 300).length} |`,
    );
  } finally {
    await cloud.stop();
  }
}

console.log(`reference CSV, default grid capped at ${EPOCHS} epochs, ${new Date().toISOString()}`);
console.log(
  '| max jobs (= T4 quota) | drop to decision, s | decision | launcher deliveries per trial | collector deliveries per trial | dead letters | failed deliveries |',
);
console.log('|---:|---:|---|---:|---:|---:|---:|');
for (const row of rows) console.log(row);
