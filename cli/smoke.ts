// The smoke test of a deployment: one CSV dropped into the deployed bucket with the real clients, its run followed
// through Firestore step by step, and a verdict: 0 once the run is decided (promoted or rejected), 2 with the step
// that stalled and where to look when it fails or stops moving. `npm run smoke` runs it against Google Cloud;
// `npm run emulators -- smoke` against the emulator stack (emulators/main.ts), with the same code.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { closeDeps, gcpDeps } from '../adapters/gcp/deps.ts';
import { runIdOfUpload } from '../adapters/gcp/object-store.ts';
import { createLogger } from '../adapters/log.ts';
import type { RunDoc, TrialDoc } from '../shared/documents.ts';
import { InputError } from '../shared/errors.ts';
import { gridKeyFor, PATHS } from '../shared/names.ts';
import type { Deps } from '../shared/ports.ts';
import { readRun, readTrials } from '../shared/records.ts';
import { readSettings } from '../shared/settings.ts';
import { gridFromOptions } from './commands/run.ts';

export interface SmokeOptions {
  /** Minutes the whole run may take. */
  timeoutMinutes: number;
  /** Minutes with no step taken (no status, trial or epoch change) before the run counts as stalled. */
  stallMinutes: number;
  /** How often the documents are read. */
  pollMs?: number;
}

/** The sample `npm start` runs: the default CSV to drop. */
const SAMPLE = fileURLToPath(
  new URL('../samples/Quote-Equity-RELIANCE-EQ-12-11-2024-to-12-11-2025.csv', import.meta.url),
);

export const SMOKE_DEFAULTS: SmokeOptions = {
  // A T4 job takes minutes to be scheduled and its image minutes to pull: both limits leave room for that.
  timeoutMinutes: 120,
  stallMinutes: 30,
};

/** The function (or job) that owns a step, and so where its logs are. */
const OWNER: Record<string, { service: string; what: string }> = {
  ingesting: { service: 'trendcast-ingest', what: 'the ingest function' },
  queued: {
    service: 'trendcast-launcher',
    what: 'the launcher function (and the sweeper, which retries the queue)',
  },
  starting: { service: 'trendcast-launcher', what: 'the launcher function, creating the Vertex AI job' },
  training: {
    service: 'trendcast-collector',
    what: 'the Vertex AI training job, then the collector function',
  },
  deciding: { service: 'trendcast-collector', what: 'the collector function, which decides the run' },
};

/** Where to look when `step` stalled: who owns it, and a Cloud Logging query for its logs. */
export function whereToLook(step: string, project: string): string[] {
  const owner = OWNER[step] ?? OWNER.deciding!;
  const lines = [
    `look at ${owner.what}:`,
    `  gcloud logging read 'resource.type="cloud_run_revision" AND resource.labels.service_name="${owner.service}"' --project=${project} --freshness=1h --limit=50`,
  ];
  if (step === 'starting' || step === 'training')
    lines.push(
      `  gcloud logging read 'resource.type="ml_job"' --project=${project} --freshness=1h --limit=50   # the training jobs`,
    );
  return lines;
}

/** The step a run is at: its own status while ingesting or decided, else the least advanced of its open trials. */
function stepOf(run: RunDoc | undefined, trials: TrialDoc[]): string {
  // A run refused at ingest has no trials.
  if (!run || run.status === 'ingesting' || (run.status === 'failed' && trials.length === 0))
    return 'ingesting';
  for (const status of ['queued', 'starting', 'training'] as const)
    if (trials.some((t) => t.status === status)) return status;
  return 'deciding';
}

/** What the documents say now, one line per change worth printing. */
function stepLines(run: RunDoc | undefined, trials: TrialDoc[]): string[] {
  if (!run) return [];
  const lines = [`run ${run.runId}: ${run.status}${run.waiting ? ` (waiting: ${run.waiting})` : ''}`];
  if (run.status !== 'ingesting') lines.unshift(`ingested: ${trials.length} trial(s)`);
  for (const t of trials) {
    const epoch = t.status === 'training' && t.progress ? `, epoch ${t.progress.epoch}` : '';
    const why = t.status === 'failed' && t.error ? `: ${t.error}` : t.waiting ? ` (${t.waiting})` : '';
    lines.push(`  trial ${t.config}: ${t.status}${epoch}${why}`);
  }
  return lines;
}

/** Drops the CSV (and its grid first, when `--epochs` or `--configs` asks for one); resolves to its run id. */
async function drop(deps: Deps, name: string, csv: Buffer, grid: unknown): Promise<string> {
  const key = `${PATHS.incomingPrefix}${name.replace(/(\.csv)?$/i, '.csv')}`;
  if (grid) await deps.store.write(gridKeyFor(key), JSON.stringify(grid));
  await deps.store.write(key, csv);
  return runIdOfUpload(deps.settings.TRENDCAST_BUCKET, key);
}

/**
 * Follows one run until it is decided, prints each step as it happens, and resolves to the exit code: 0 decided
 * (promoted or rejected), 2 failed, stalled or out of time (with the step and where to look).
 */
export async function smoke(
  deps: Deps,
  input: { name: string; csv: Buffer; grid?: unknown },
  options: SmokeOptions,
  print: (line: string) => void,
): Promise<number> {
  const project = deps.settings.GOOGLE_CLOUD_PROJECT;
  const started = Date.now();
  const runId = await drop(deps, input.name, input.csv, input.grid);
  print(
    `uploaded gs://${deps.settings.TRENDCAST_BUCKET}/${PATHS.incomingPrefix}${input.name} (run ${runId})`,
  );
  let seen = new Set<string>();
  // Only a state never seen before is progress: a trial refused for GPU quota goes starting -> queued at every
  // sweep, and that flapping must not reset the stall clock.
  const reached = new Set<string>();
  let lastChange = Date.now();
  for (;;) {
    const run = await readRun(deps.docs, runId);
    const trials = run ? await readTrials(deps.docs, runId) : [];
    const lines = stepLines(run, trials);
    const fresh = lines.filter((l) => !seen.has(l));
    for (const line of fresh) print(line);
    seen = new Set(lines);
    for (const line of lines) {
      if (reached.has(line)) continue;
      reached.add(line);
      lastChange = Date.now();
    }
    if (run?.status === 'promoted' || run?.status === 'rejected') {
      print(
        `decided: ${run.status} in ${Math.round((Date.now() - started) / 1000)} s${run.reason ? `: ${run.reason}` : ''}`,
      );
      if (run.reportUri) print(`report: ${run.reportUri}`);
      return 0;
    }
    const step = stepOf(run, trials);
    const failure =
      run?.status === 'failed'
        ? `the run failed at ${step}: ${run.error ?? 'no reason recorded'}`
        : Date.now() - started > options.timeoutMinutes * 60_000
          ? `the run was not decided within ${options.timeoutMinutes} min (at ${step})`
          : Date.now() - lastChange > options.stallMinutes * 60_000
            ? `stalled at ${step}: nothing moved for ${options.stallMinutes} min${run?.waiting ? ` (${run.waiting})` : ''}`
            : undefined;
    if (failure) {
      print(`FAILED: ${failure}`);
      for (const line of whereToLook(step, project)) print(line);
      return 2;
    }
    await new Promise((r) => setTimeout(r, options.pollMs ?? 2_000));
  }
}

const minutes = (what: string) => (value: string) => {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError(`${what}: "${value}" is not a positive number of minutes`);
  return n;
};

/** The command's options and arguments, shared by `npm run smoke` and `npm run emulators -- smoke`. */
export function smokeCommand(name: string): Command {
  return new Command(name)
    .argument('[csv]', 'the CSV to drop (default: the sample npm start runs)', SAMPLE)
    .option('--epochs <n>', 'cap every config of the default grid (or --configs) at N epochs')
    .option('--configs <grid.json>', 'your own grid')
    .option('--timeout <minutes>', 'the whole run', minutes('--timeout'), SMOKE_DEFAULTS.timeoutMinutes)
    .option(
      '--stall <minutes>',
      'no step taken for this long',
      minutes('--stall'),
      SMOKE_DEFAULTS.stallMinutes,
    );
}

export interface SmokeCliOptions {
  epochs?: string;
  configs?: string;
  timeout: number;
  stall: number;
}

/** Reads the CSV and the grid the options name; runs the smoke test against `deps`; resolves to the exit code. */
export async function runSmoke(deps: Deps, csvPath: string, options: SmokeCliOptions): Promise<number> {
  const csv = await readFile(csvPath).catch(() => {
    throw new InputError(`${csvPath}: cannot read the file`);
  });
  const grid = await gridFromOptions(options);
  return smoke(
    deps,
    { name: basename(csvPath), csv, grid },
    { timeoutMinutes: options.timeout, stallMinutes: options.stall },
    (line) => process.stdout.write(`${line}\n`),
  );
}

// `npm run smoke -- [csv] [--epochs N]`: against the deployment the environment names (TRENDCAST_PROJECT or
// GOOGLE_CLOUD_PROJECT, TRENDCAST_BUCKET, default <project>-trendcast, TRENDCAST_FIRESTORE_DATABASE), with
// Application Default Credentials.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const program = smokeCommand('smoke').action(async (csv: string, options: SmokeCliOptions) => {
    const project = process.env.TRENDCAST_PROJECT || process.env.GOOGLE_CLOUD_PROJECT;
    if (!project) throw new InputError('set the project: TRENDCAST_PROJECT=<project id>');
    const settings = readSettings({
      ...process.env,
      TRENDCAST_BACKEND: 'gcp',
      GOOGLE_CLOUD_PROJECT: project,
      TRENDCAST_BUCKET: process.env.TRENDCAST_BUCKET || `${project}-trendcast`,
    });
    const deps = gcpDeps(settings, createLogger());
    try {
      process.exitCode = await runSmoke(deps, csv, options);
    } finally {
      await closeDeps(deps);
    }
  });
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    process.exit(2);
  }
}
