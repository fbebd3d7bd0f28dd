import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { LocalObjectStore } from '../../adapters/local/object-store.ts';
import { buildDataset } from '../../shared/dataset.ts';
import { InputError } from '../../shared/errors.ts';

/** Builds the dataset folder for a CSV; everything is validated before anything is written under `out`. */
export async function writeFeatures(csvPath: string, out: string, sequenceLength?: number): Promise<string> {
  const bytes = await readFile(csvPath).catch(() => {
    throw new InputError(`${csvPath}: cannot read the file`);
  });
  const { manifest, files } = buildDataset({
    bytes,
    fileName: csvPath,
    ...(sequenceLength ? { sequenceLength } : {}),
  });
  const target = resolve(out);
  const store = new LocalObjectStore(target);
  // Each file lands whole (temp file, then rename), the large ones streamed; dataset.json last, so a folder that
  // has it is complete.
  for (const [name, data] of Object.entries(files)) {
    if (typeof data === 'string' || Buffer.isBuffer(data)) await store.write(name, data);
    else await store.writeStream(name, data);
  }
  const c = manifest.counts;
  return `${manifest.symbol} ${manifest.timeframe}: ${c.days} bars, ${c.rows} rows, ${c.windows} windows (${c.train} train, ${c.validation} validation), ${c.up} up / ${c.down} down -> ${target}`;
}

export function registerFeatures(program: Command): void {
  program
    .command('features')
    .description('parse a price CSV and write its dataset folder: features.csv, X.npy, y.npy, dataset.json')
    .argument('<csv>', 'price CSV (NSE export or plain OHLCV)')
    .requiredOption('--out <dir>', 'dataset folder to write')
    .option('--sequence-length <n>', 'rows per window', '60')
    .action(async (csv: string, options: { out: string; sequenceLength: string }) => {
      const L = Number(options.sequenceLength);
      if (!Number.isInteger(L) || L < 2)
        throw new InputError(
          `--sequence-length: "${options.sequenceLength}" is not a whole number of at least 2`,
        );
      process.stdout.write(`${await writeFeatures(csv, options.out, L)}\n`);
    });
}
