import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { LocalDocumentStore } from '../../adapters/local/document-store.ts';
import { createLogger } from '../../adapters/log.ts';
import { DEFAULT_GRID, Grid } from '../../shared/config.ts';
import { FINAL_RUN_STATUSES, type ForecastDoc, type RunDoc, type TrialDoc } from '../../shared/documents.ts';
import { InputError } from '../../shared/errors.ts';
import { gridKeyFor, PATHS } from '../../shared/names.ts';
import type { EpochProgressLine } from '../../shared/progress.ts';
import { readForecast, readRun, readTrials } from '../../shared/records.ts';
import { deriveRunId } from '../../shared/run-id.ts';
import { parseJson, parseWith } from '../../shared/validate.ts';
import { createEmbedded, type Embedded, LOCAL_BUCKET } from '../embedded.ts';
import { forecastLine, left, planLines, reportLocation, runSummary } from '../format.ts';

export interface RunOptions {
  home: string;
  configs?: string;
  epochs?: string;
  maxJobs?: string;
  quiet?: boolean;
}

/** The grid for a run: `--configs` (or the default grid) with `--epochs` capping every config. */
export async function gridFromOptions(options: {
  configs?: string;
  epochs?: string;
}): Promise<Grid | undefined> {
  if (!options.configs && !options.epochs) return undefined;
  let grid: Grid = DEFAULT_GRID;
  if (options.configs) {
    const text = await readFile(options.configs, 'utf8').catch(() => {
      throw new InputError(`${options.configs}: cannot read the grid file`);
    });
    const json = parseJson(text, options.configs);
    grid = parseWith(Grid, Array.isArray(json) ? { configs: json } : json, options.configs);
  }
  if (options.epochs) {
    const epochs = Number(options.epochs);
    if (!Number.isInteger(epochs) || epochs < 1)
      throw new InputError(`--epochs: "${options.epochs}" is not a positive whole number`);
    grid = { ...grid, configs: grid.configs.map((c) => ({ ...c, epochs })) };
  }
  return grid;
}

/** One line per epoch per trial: the losses, the best validation loss so far, the pace and the time left at it. */
export function progressLine(p: EpochProgressLine): string {
  const lr = p.lr === undefined ? '' : `  lr ${p.lr.toExponential(1)}`;
  const pace = `  ${p.secondsPerEpoch.toFixed(2)} s/epoch  left ${left(p.remainingSeconds)}`;
  return `  ${p.config.padEnd(20)}${p.folds ? ` fold ${p.fold}/${p.folds}` : ''} epoch ${String(p.epoch).padStart(3)}/${p.epochs}  loss ${p.loss.toFixed(4)}  val_loss ${p.valLoss.toFixed(4)}  best ${p.bestValLoss.toFixed(4)}${lr}${pace}`;
}

function progressPrinter(): (p: EpochProgressLine) => void {
  return (p) => process.stderr.write(`${progressLine(p)}\n`);
}

/** Drops a CSV into the local bucket's `incoming/` and runs the flow until its run ends. */
export async function runCsv(
  csvPath: string,
  options: RunOptions,
): Promise<{ run: RunDoc; trials: TrialDoc[] }> {
  const bytes = await readFile(csvPath).catch(() => {
    throw new InputError(`${csvPath}: cannot read the file`);
  });
  const grid = await gridFromOptions(options);
  const log = createLogger({}, { json: false, quiet: true });
  const embedded = createEmbedded({
    home: options.home,
    log,
    ...(options.maxJobs ? { maxJobs: Number(options.maxJobs) } : {}),
    ...(options.quiet ? {} : { onProgress: progressPrinter() }),
  });
  // The bucket only ingests `incoming/*.csv`; a file named otherwise is dropped under a .csv name.
  const name = basename(csvPath);
  const key = `${PATHS.incomingPrefix}${/\.csv$/i.test(name) ? name : `${name}.csv`}`;
  if (grid) await embedded.store.write(gridKeyFor(key), JSON.stringify(grid, null, 2));
  else await embedded.store.delete(gridKeyFor(key));
  await embedded.store.write(key, bytes);
  const stop = () => {
    void embedded.jobs.stop().then(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  try {
    const event = await embedded.finalize(key);
    const runId = deriveRunId(LOCAL_BUCKET, key, String(event.data!.generation));
    if (!options.quiet) void printPlan(embedded, runId);
    await embedded.waitForRun(runId);
    return await readRunWithTrials(embedded, runId);
  } finally {
    process.off('SIGINT', stop);
  }
}

/** Once ingest has planned the run: its estimate and warnings, before the first epoch's lines. */
async function printPlan(embedded: Pick<Embedded, 'docs'>, runId: string): Promise<void> {
  try {
    for (;;) {
      const run = await readRun(embedded.docs, runId);
      if (run?.estimate) {
        for (const line of planLines(run)) process.stderr.write(`${line}\n`);
        return;
      }
      if (run && FINAL_RUN_STATUSES.has(run.status)) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch {
    // Only a courtesy: the summary repeats these lines at the end.
  }
}

/** The forecast this run made with the current model, if it made one. */
async function runForecast(home: string, run: RunDoc): Promise<ForecastDoc | undefined> {
  const docs = new LocalDocumentStore(join(resolve(home), 'firestore'));
  const doc = await readForecast(docs, run.symbol!, run.timeframe!);
  return doc?.runId === run.runId ? doc : undefined;
}

export async function readRunWithTrials(embedded: Pick<Embedded, 'docs'>, runId: string) {
  const run = await readRun(embedded.docs, runId);
  if (!run) throw new Error(`run ${runId} has no document`);
  return { run, trials: await readTrials(embedded.docs, runId) };
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('drop a CSV into the local bucket and run the whole flow until the run ends')
    .argument('<csv>', 'price CSV (NSE export or plain OHLCV)')
    .option(
      '--configs <grid.json>',
      'hyperparameter grid: {"configs": [...], "gate": true} or an array of configs',
    )
    .option('--epochs <n>', 'cap every config at n epochs')
    .option('--max-jobs <n>', 'trainer processes at once (default: one per CPU core)')
    .option('--home <dir>', 'state folder (local bucket and documents)', '.trendcast')
    .option('--quiet', 'no per-epoch progress')
    .action(async (csv: string, options: RunOptions) => {
      const { run, trials } = await runCsv(csv, options);
      // A failed run is a refused input: one `error:` line and exit 2, like every other bad input.
      if (run.status === 'failed') {
        if (run.reportUri) process.stdout.write(`report: ${reportLocation(run.reportUri)}\n`);
        throw new InputError(run.error ?? `run ${run.runId} failed`);
      }
      process.stdout.write(`\n${runSummary(run, trials)}\n`);
      const forecast = run.symbol && run.timeframe ? await runForecast(options.home, run) : undefined;
      if (forecast) process.stdout.write(`${forecastLine(forecast)}\n`);
      if (!FINAL_RUN_STATUSES.has(run.status))
        throw new Error(`run ${run.runId} did not end (status ${run.status})`);
    });
}
