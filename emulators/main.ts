// `npm run emulators [-- --upload <csv> [--epochs N] [--once]]`: the cloud pipeline on one machine. The Pub/Sub and
// Firestore emulators and fake-gcs-server stand in for Google Cloud, the functions run under the Functions Framework
// behind an emulated Eventarc, and trainers run as local child processes (there is no Vertex AI emulator).
// Ctrl-C stops every process it started.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Command } from 'commander';
import { gcpDeps } from '../adapters/gcp/deps.ts';
import { storageClient } from '../adapters/gcp/object-store.ts';
import { ChildProcessJobLauncher } from '../adapters/local/job-launcher.ts';
import { createLogger } from '../adapters/log.ts';
import { DEFAULT_GRID } from '../shared/config.ts';
import { FINAL_RUN_STATUSES } from '../shared/documents.ts';
import { PATHS } from '../shared/names.ts';
import { readRun } from '../shared/records.ts';
import { deriveRunId } from '../shared/run-id.ts';
import { readSettings } from '../shared/settings.ts';
import { startPipeline } from './eventarc.ts';
import { Emulators } from './harness.ts';

const program = new Command('emulators')
  .description('run the Google Cloud pipeline against local emulators')
  .option('--upload <csv>', 'upload this CSV to incoming/ once everything is up')
  .option('--epochs <n>', 'cap every config of the default grid at N epochs (uploads a sidecar grid)', Number)
  .option('--no-functions', 'start only the emulators and the bucket, no functions or subscriptions')
  .option('--once', 'exit when the uploaded CSV’s run has ended: 0 promoted or rejected, 1 failed')
  .parse();
const options = program.opts<{ upload?: string; epochs?: number; once?: boolean; functions: boolean }>();

const log = createLogger();
const emulators = await Emulators.start({ setProcessEnv: true });
const settings = readSettings();
const deps = gcpDeps(settings, log);
const jobs = new ChildProcessJobLauncher(deps.bus, {
  maxJobs: settings.TRENDCAST_MAX_JOBS,
  log,
  onProgress: (p) =>
    log.info(
      `epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(4)} val_loss ${p.valLoss.toFixed(4)} best ${p.bestValLoss.toFixed(4)}`,
      { runId: p.runId, trial: p.config },
    ),
});
deps.launcher = jobs;
process.on('exit', () => jobs.stop());
if (options.functions) await startPipeline(emulators, deps);

const exports = Object.entries(emulators.env)
  .map(([k, v]) => `${k}=${v}`)
  .join(' ');
console.log(`emulators ready (sessions ${emulators.sessions.join(',')})`);
console.log(`  for your own clients: export ${exports}`);
console.log(
  `  drop a CSV into gs://${emulators.env.TRENDCAST_BUCKET}/${PATHS.incomingPrefix}; Ctrl-C stops everything`,
);

if (options.upload) {
  const name = `${PATHS.incomingPrefix}${basename(options.upload)}`;
  if (options.epochs) {
    const grid = {
      ...DEFAULT_GRID,
      configs: DEFAULT_GRID.configs.map((c) => ({ ...c, epochs: options.epochs! })),
    };
    await deps.store.write(name.replace(/\.csv$/i, '.grid.json'), JSON.stringify(grid), 'application/json');
  }
  await deps.store.write(name, readFileSync(options.upload), 'text/csv');
  const [metadata] = await storageClient().bucket(emulators.env.TRENDCAST_BUCKET).file(name).getMetadata();
  const runId = deriveRunId(emulators.env.TRENDCAST_BUCKET, name, String(metadata.generation));
  console.log(`uploaded gs://${emulators.env.TRENDCAST_BUCKET}/${name}: run ${runId}`);
  let last = '';
  while (true) {
    const run = await readRun(deps.docs, runId);
    if (run && run.status !== last) {
      last = run.status;
      console.log(
        `run ${runId}: ${run.status}${run.reason ? ` (${run.reason})` : ''}${run.error ? `: ${run.error}` : ''}`,
      );
    }
    if (run && FINAL_RUN_STATUSES.has(run.status) && options.once) {
      await emulators.stop();
      process.exit(run.status === 'failed' ? 1 : 0);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}
