import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { createLogger } from '../../adapters/log.ts';
import { InputError } from '../../shared/errors.ts';
import { TrainingRequest, type TrainingResult } from '../../shared/messages.ts';
import { readSettings } from '../../shared/settings.ts';
import { parseJson, parseWith } from '../../shared/validate.ts';
import { type EpochProgress, runTraining } from '../../trainer/train.ts';

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

function progressReporter(request: TrainingRequest, mode: string): (p: EpochProgress) => void {
  const { runId } = request;
  const config = request.config.name;
  if (mode === 'json') {
    return (p) => process.stdout.write(`${JSON.stringify({ event: 'epoch', runId, config, ...p })}\n`);
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
    .action(async (options: { request: string; progress: string }) => {
      if (!['json', 'text'].includes(options.progress))
        throw new InputError(`--progress: "${options.progress}" is not json or text`);
      const request = await readRequest(options.request);
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
