import { Command } from 'commander';
import { boundedText, InputError, MAX_ERROR_CHARS, messageOf } from '../shared/errors.ts';
import { readSettings } from '../shared/settings.ts';

const program = new Command()
  .name('trendcast')
  .description('Turns a stock-price CSV into a trained, evaluated and promoted LSTM model.')
  .showHelpAfterError();

// Each command lives in its own module under cli/commands and registers itself on the program. Only the command
// asked for is loaded (all of them for help or an unknown command): `trendcast features` then starts without
// TensorFlow.js, the report renderer and the embedded platform (232 MB of memory before any work, 99 MB after).
const COMMANDS: Record<string, () => Promise<(program: Command) => void>> = {
  features: async () => (await import('./commands/features.ts')).registerFeatures,
  train: async () => (await import('./commands/train.ts')).registerTrain,
  run: async () => (await import('./commands/run.ts')).registerRun,
  watch: async () => (await import('./commands/watch.ts')).registerWatch,
  status: async () => (await import('./commands/status.ts')).registerStatus,
  report: async () => (await import('./commands/report.ts')).registerReport,
  predict: async () => (await import('./commands/predict.ts')).registerPredict,
};
const asked = process.argv.slice(2).find((a) => !a.startsWith('-'));
for (const [name, load] of Object.entries(COMMANDS))
  if (!asked || !(asked in COMMANDS) || asked === name) (await load())(program);

/** Bad input exits 2 with one `error:` line; anything else exits 1, also without a stack trace unless asked for. */
export function reportAndExit(error: unknown): never {
  const prefix = 'error: ';
  process.stderr.write(`${prefix}${boundedText(messageOf(error), MAX_ERROR_CHARS - prefix.length)}\n`);
  if (readSettings().TRENDCAST_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  process.exit(error instanceof InputError ? 2 : 1);
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  reportAndExit(error);
}
