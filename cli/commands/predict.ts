import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { LocalDocumentStore } from '../../adapters/local/document-store.ts';
import { LocalObjectStore } from '../../adapters/local/object-store.ts';
import { openFolderUri } from '../../adapters/object-stores.ts';
import { parsePriceCsv } from '../../shared/csv.ts';
import { InputError } from '../../shared/errors.ts';
import { latestWindow, type Signal, signalOf } from '../../shared/forecast.ts';
import { PATHS } from '../../shared/names.ts';
import type { ObjectStore } from '../../shared/ports.ts';
import { readModel, readModels } from '../../shared/records.ts';
import { predictProbability, readPreprocessing } from '../../trainer/predict.ts';

export type PredictOptions = { home: string; model?: string; json?: boolean };

export type PredictOutput = {
  symbol: string;
  timeframe: string;
  asOf: string;
  probabilityUp: number;
  signal: Signal;
  threshold: number;
  /** null for a --model folder that is not a promoted version. */
  modelVersion: number | null;
  model: string;
};

/** The model to forecast with: --model (a folder, file:// or gs:// URI), else the home's current model for the bars. */
async function locateModel(
  options: PredictOptions,
  symbol: string,
  timeframe: string,
): Promise<{ store: ObjectStore; prefix: string; uri: string; version: number | null }> {
  if (options.model) {
    const uri = /^(file|gs):\/\//.test(options.model)
      ? options.model.replace(/\/?$/, '/')
      : `${pathToFileURL(resolve(options.model)).href}/`;
    const { store, prefix } = await openFolderUri(uri);
    const version = /\/versions\/v(\d+)\/$/.exec(uri);
    return { store, prefix, uri, version: version ? Number(version[1]) : null };
  }
  const home = resolve(options.home);
  const docs = new LocalDocumentStore(join(home, 'firestore'));
  const model = await readModel(docs, symbol, timeframe);
  if (!model?.current) {
    const others = (await readModels(docs)).filter((m) => m.current).map((m) => `${m.symbol} ${m.timeframe}`);
    throw new InputError(
      `no current model for ${symbol} ${timeframe} in ${home} (${others.length ? `it has ${others.join(', ')}` : 'it has none'}): train one with \`trendcast run\`, or pass --model`,
    );
  }
  const store = new LocalObjectStore(join(home, 'bucket'));
  const prefix = PATHS.modelVersion(symbol, timeframe, model.current.version);
  return { store, prefix, uri: store.baseUri + prefix, version: model.current.version };
}

/** The forecast for the bar after a CSV's last one, by the current model (or the one given). */
export async function predictCsv(csvPath: string, options: PredictOptions): Promise<PredictOutput> {
  const bytes = await readFile(csvPath).catch(() => {
    throw new InputError(`${csvPath}: cannot read the file`);
  });
  const file = basename(csvPath);
  const series = parsePriceCsv(bytes, file);
  const model = await locateModel(options, series.symbol, series.timeframe);
  const preprocessing = await readPreprocessing(model.store, model.prefix, model.uri);
  if (`${series.symbol} ${series.timeframe}` !== `${preprocessing.symbol} ${preprocessing.timeframe}`) {
    throw new InputError(
      `${file}: the bars are ${series.symbol} ${series.timeframe}; the model ${model.uri} is ${preprocessing.symbol} ${preprocessing.timeframe}`,
    );
  }
  let input: ReturnType<typeof latestWindow>;
  try {
    input = latestWindow(series, preprocessing.sequenceLength);
  } catch (error) {
    if (error instanceof InputError) throw new InputError(`${file}: ${error.message}`);
    throw error;
  }
  const probabilityUp = await predictProbability(model.store, model.prefix, preprocessing, input, model.uri);
  return {
    symbol: series.symbol,
    timeframe: series.timeframe,
    asOf: input.asOf,
    probabilityUp,
    signal: signalOf(probabilityUp, preprocessing.threshold),
    threshold: preprocessing.threshold,
    modelVersion: model.version,
    model: model.uri,
  };
}

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description(
      "forecast the bar after a CSV's last one with the current model (nothing is trained or written)",
    )
    .argument(
      '<csv>',
      'price CSV of the model’s symbol and timeframe, at least 60 bars after the indicators’ warm-up',
    )
    .option(
      '--model <folder or URI>',
      'a model folder (file path, file:// or gs://) instead of the current model',
    )
    .option('--json', 'one JSON object')
    .option('--home <dir>', 'state folder (local bucket and documents)', '.trendcast')
    .action(async (csv: string, options: PredictOptions) => {
      const f = await predictCsv(csv, options);
      if (options.json) {
        process.stdout.write(`${JSON.stringify(f, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `${f.symbol} ${f.timeframe}, the bar after ${f.asOf}: ${f.signal.toUpperCase()} (P(up) ${f.probabilityUp.toFixed(4)}, threshold ${f.threshold}) by ${f.modelVersion ? `model v${f.modelVersion}` : 'the model'} ${f.model}\n`,
      );
    });
}
