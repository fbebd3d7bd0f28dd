// `npm run emulators`: the Google Cloud pipeline on one machine (emulators/cloud.ts), two ways.
//   npm run emulators                  serve: everything up until Ctrl-C; drop CSVs into the emulated bucket yourself
//   npm run emulators -- run <csv> [--epochs N] [--max-jobs N] [--gpu-quota N] [--fault image-pull|preempt|hang|stockout|launcher-crash] [--json]
//                                      drop one CSV, wait for its run to be decided, print it, stop everything;
//                                      exit 0 promoted or rejected, 2 failed
//   npm run emulators -- smoke [csv] [--epochs N] [--gpu-quota N] [--timeout M] [--stall M]
//                                      the smoke test of a deployment (cli/smoke.ts) against the emulated cloud
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createLogger } from '../adapters/log.ts';
import { gridFromOptions } from '../cli/commands/run.ts';
import { collectStatus } from '../cli/commands/status.ts';
import { runSummary } from '../cli/format.ts';
import { runSmoke, type SmokeCliOptions, smokeCommand } from '../cli/smoke.ts';
import { InputError } from '../shared/errors.ts';
import { gridKeyFor, PATHS } from '../shared/names.ts';
import { readRun, readTrials } from '../shared/records.ts';
import { startEmulatedCloud } from './cloud.ts';
import { FAULTS, type Fault } from './faults.ts';

const wholeNumber = (what: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`${what}: "${value}" is not a whole number`);
  return n;
};

const program = new Command('emulators').description(
  'run the Google Cloud pipeline against the emulators and the local Vertex AI service',
);

program
  .command('serve', { isDefault: true })
  .description('start everything and keep it up until Ctrl-C')
  .option('--max-jobs <n>', 'training jobs at once (TRENDCAST_MAX_JOBS)', wholeNumber('--max-jobs'), 1)
  .option('--gpu-quota <n>', 'T4 GPUs the local Vertex AI service grants', wholeNumber('--gpu-quota'), 1)
  .action(async (options: { maxJobs: number; gpuQuota: number }) => {
    const cloud = await startEmulatedCloud({ maxJobs: options.maxJobs, gpuQuota: options.gpuQuota });
    const exports = Object.entries({
      ...cloud.emulators.env,
      TRENDCAST_VERTEX_ENDPOINT: cloud.vertex.endpoint,
    })
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    console.log(`emulators ready (sessions ${cloud.emulators.sessions.join(',')})`);
    console.log(`  for your own clients: export ${exports}`);
    console.log(
      `  drop a CSV into gs://${cloud.emulators.env.TRENDCAST_BUCKET}/${PATHS.incomingPrefix}; Ctrl-C stops everything`,
    );
    const stop = () => void cloud.stop().then(() => process.exit(130));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

program
  .command('run <csv>')
  .description('drop one CSV through the real wiring, wait for its run to be decided, print it and stop')
  .option('--configs <grid.json>', 'your own grid')
  .option('--epochs <n>', 'cap every config at N epochs')
  .option('--max-jobs <n>', 'training jobs at once (TRENDCAST_MAX_JOBS)', wholeNumber('--max-jobs'), 1)
  .option('--gpu-quota <n>', 'T4 GPUs the local Vertex AI service grants', wholeNumber('--gpu-quota'), 1)
  .addOption(new Option('--fault <fault>', 'the first training job meets this fault').choices([...FAULTS]))
  .option('--json', 'print the `trendcast status --json` document of the run')
  .action(
    async (
      csv: string,
      options: {
        configs?: string;
        epochs?: string;
        maxJobs: number;
        gpuQuota: number;
        fault?: Fault;
        json?: boolean;
      },
    ) => {
      const bytes = await readFile(csv).catch(() => {
        throw new InputError(`${csv}: cannot read the file`);
      });
      const grid = await gridFromOptions(options);
      const log = createLogger();
      const cloud = await startEmulatedCloud({
        maxJobs: options.maxJobs,
        gpuQuota: options.gpuQuota,
        sweepEveryMs: 5_000,
        log,
        ...(options.fault === 'hang' ? { settings: { TRENDCAST_JOB_TIMEOUT_MINUTES: '1' } } : {}),
      });
      try {
        if (options.fault) cloud.injectFault(options.fault);
        const key = `${PATHS.incomingPrefix}${basename(csv).replace(/(\.csv)?$/i, '.csv')}`;
        if (grid) await cloud.upload(gridKeyFor(key), JSON.stringify(grid));
        const runId = await cloud.upload(key, bytes);
        const decided = await cloud.waitForRun(runId);
        // The decision sets more in motion (the report, a forecast): wait for it, bounded, before stopping.
        const unsettled = await cloud.settle(runId);
        if (unsettled) log.warn(unsettled);
        const run = (await readRun(cloud.deps.docs, runId)) ?? decided;
        if (options.json) {
          const { details: _details, ...status } = await collectStatus(cloud.deps.docs, runId);
          process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
        } else process.stdout.write(`${runSummary(run, await readTrials(cloud.deps.docs, runId))}\n`);
        process.exitCode = run.status === 'failed' ? 2 : 0;
      } finally {
        await cloud.stop();
      }
    },
  );

program.addCommand(
  smokeCommand('smoke')
    .description('the smoke test of a deployment (npm run smoke), against the emulated cloud')
    .option('--gpu-quota <n>', 'T4 GPUs the local Vertex AI service grants', wholeNumber('--gpu-quota'), 1)
    .action(async (csv: string, options: SmokeCliOptions & { gpuQuota: number }) => {
      const cloud = await startEmulatedCloud({
        gpuQuota: options.gpuQuota,
        sweepEveryMs: 5_000,
        log: createLogger(),
      });
      try {
        process.exitCode = await runSmoke(cloud.deps, csv, options);
      } finally {
        await cloud.stop();
      }
    }),
);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.stderr.write(`error: ${(error as Error).message}\n`);
  process.exit(error instanceof InputError ? 2 : 1);
}
