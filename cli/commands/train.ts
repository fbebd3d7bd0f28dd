import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { createLogger } from '../../adapters/log.ts';
import { InputError } from '../../shared/errors.ts';
import { TrainingRequest, type TrainingResult } from '../../shared/messages.ts';
import type { EpochProgress, EpochProgressLine } from '../../shared/progress.ts';
import { readSettings } from '../../shared/settings.ts';
import { trainerThreadCap } from '../../shared/threads.ts';
import { parseJson, parseWith } from '../../shared/validate.ts';
import { kernelThreads, setKernelThreads } from '../../trainer/engine/lstm.ts';
import { runTraining } from '../../trainer/train.ts';

/** `--request` is a file path or inline JSON (what Vertex AI passes as the container's arguments). */
async function readRequest(arg: string): Promise<TrainingRequest> {
  const inline = arg.trimStart().startsWith('{');
  const text = inline
    ? arg
    : await readFile(arg, 'utf8').catch(() => {
        throw new InputError(`--request: cannot read ${arg}`);
      });
  const where = inline ? '--request' : arg;
  return parseWith(TrainingRequest, parseJson(text, where), where);
}

/**
 * The trainer's thread count, read from the file the local launcher keeps (`--thread-share`) at most every 100 ms:
 * the kernel asks before each call, so a new share applies from the next batch on. A file that has gone (the
 * launcher removes it once the job has ended) or holds no count leaves the last count in force.
 */
export function followThreadShare(file: string): () => number {
  const read = (): number | undefined => {
    try {
      const threads = Number(readFileSync(file, 'utf8').trim());
      return Number.isInteger(threads) && threads >= 1 ? threads : undefined;
    } catch {
      return undefined;
    }
  };
  let threads = read();
  if (threads === undefined)
    throw new InputError(
      `--thread-share: ${file} does not hold a thread count (a whole number of at least 1)`,
    );
  let readAt = performance.now();
  return () => {
    if (performance.now() - readAt >= 100) {
      threads = read() ?? threads;
      readAt = performance.now();
    }
    return threads!;
  };
}

function progressReporter(request: TrainingRequest, mode: string): (p: EpochProgress) => void {
  const { runId } = request;
  const config = request.config.name;
  if (mode === 'json') {
    return (p) =>
      process.stdout.write(
        `${JSON.stringify({ event: 'epoch', runId, config, ...p, threads: kernelThreads() } satisfies EpochProgressLine)}\n`,
      );
  }
  const line = (p: EpochProgress) =>
    `${config}${p.folds ? ` fold ${p.fold}/${p.folds}` : ''} epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(4)} val_loss ${p.valLoss.toFixed(4)} best ${p.bestValLoss.toFixed(4)} lr ${p.lr.toExponential(1)}`;
  if (process.stderr.isTTY) {
    return (p) => {
      const done = Math.round((20 * p.epoch) / p.epochs);
      process.stderr.write(`\r[${'#'.repeat(done)}${'-'.repeat(20 - done)}] ${line(p)}\u001b[K`);
    };
  }
  return (p) => process.stderr.write(`${line(p)}\n`);
}

/** In the cloud the trainer publishes its own result; locally the job launcher publishes what it prints. */
async function publishResult(result: TrainingResult): Promise<void> {
  const settings = readSettings();
  const topic = settings.TRENDCAST_RESULTS_TOPIC;
  if (!topic) return;
  const { PubSubMessageBus } = await import('../../adapters/gcp/message-bus.ts');
  await new PubSubMessageBus(settings.GOOGLE_CLOUD_PROJECT).publish(topic, result, {
    runId: result.runId,
    config: result.config,
  });
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train one config on a dataset folder and write its artifacts (what each training job runs)')
    .requiredOption(
      '--request <file or JSON>',
      'a TrainingRequest: runId, config, datasetUri, outputUri, seed',
    )
    .option('--progress <mode>', 'json (one line per epoch on stdout) or text', 'text')
    .option(
      '--thread-share <file>',
      'a file holding how many threads this trainer may use now, read again between batches (the local launcher keeps it); default TRENDCAST_TRAINER_THREADS',
    )
    .action(async (options: { request: string; progress: string; threadShare?: string }) => {
      if (!['json', 'text'].includes(options.progress))
        throw new InputError(`--progress: "${options.progress}" is not json or text`);
      const request = await readRequest(options.request);
      setKernelThreads(
        options.threadShare
          ? followThreadShare(options.threadShare)
          : trainerThreadCap(readSettings().TRENDCAST_TRAINER_THREADS, availableParallelism()),
      );
      // Structured logs (backend, dataset, outcome) go to stderr, except under the terminal's progress bar.
      const bar = process.stderr.isTTY && options.progress === 'text';
      let failure: unknown;
      const result = await runTraining(request, {
        onEpoch: progressReporter(request, options.progress),
        log: bar ? undefined : createLogger(),
        onFailure: (error) => {
          failure = error;
        },
      });
      if (bar) process.stderr.write('\n');
      await publishResult(result);
      if (options.progress === 'json')
        process.stdout.write(`${JSON.stringify({ event: 'result', result })}\n`);
      else process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      if (result.status === 'failed') {
        process.stderr.write(`error: ${result.error}\n`);
        process.exitCode = failure instanceof InputError ? 2 : 1;
      }
    });
}
