import { Command } from 'commander';
import { boundedText, InputError, MAX_ERROR_CHARS, messageOf } from '../shared/errors.ts';
import { readSettings } from '../shared/settings.ts';

// Each command lives in its own module under cli/commands and registers itself on the program.
import { registerFeatures } from './commands/features.ts';
import { registerPredict } from './commands/predict.ts';
import { registerReport } from './commands/report.ts';
import { registerRun } from './commands/run.ts';
import { registerStatus } from './commands/status.ts';
import { registerTrain } from './commands/train.ts';
import { registerWatch } from './commands/watch.ts';

const program = new Command()
  .name('trendcast')
  .description('Turns a stock-price CSV into a trained, evaluated and promoted LSTM model.')
  .showHelpAfterError();

registerFeatures(program);
registerTrain(program);
registerRun(program);
registerWatch(program);
registerStatus(program);
registerReport(program);
registerPredict(program);

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
