import { createHash } from 'node:crypto';
import { type Bars, type PriceSeries, parsePriceCsv } from './csv.ts';
import { InputError } from './errors.ts';
import { computeFeatures, FEATURE_NAMES, firstDefinedBar } from './features.ts';
import { latestWindow } from './forecast.ts';
import { DatasetManifest, type DatasetWindows } from './manifest.ts';
import { encodeNpy, npyHeader } from './npy.ts';
import { parseWith } from './validate.ts';

export const DEFAULT_SEQUENCE_LENGTH = 60;
/** The last 20% of windows, in time order, validate. */
export const VALIDATION_SHARE = 0.2;

/** A file produced chunk by chunk each time it is iterated, so no more than one chunk is ever held. */
export type Chunks = Iterable<Buffer>;

export type DatasetFiles = {
  'features.csv': Chunks;
  /** The scaled feature matrix, float32 [rows, F]: window w is rows w .. w+L−1 (cut by the trainer, `cutWindows`). */
  'X.npy': Chunks;
  'y.npy': Buffer;
  'windows.json': Chunks;
  'latest.json': string;
  'dataset.json': string;
};

/** Rows per chunk of the streamed files: about 1 MB of features.csv, 110 kB of X.npy (windows per block of windows.json). */
const CHUNK_ROWS = 4096;
/** features.csv is written this many rows at a time, into a buffer sized for the longest row. */
const CSV_CHUNK_ROWS = 512;
/** A timestamp (at most 25 characters), 27 numbers as JavaScript prints them (at most 24 each), the target, commas. */
const MAX_CSV_ROW_BYTES = 25 + FEATURE_NAMES.length * 25 + 3;

/** A dataset file's whole bytes: for callers that hold a small dataset in memory anyway (tests, benchmarks). */
export const datasetFileBytes = (data: DatasetFiles[keyof DatasetFiles]): Buffer =>
  typeof data === 'string' ? Buffer.from(data) : Buffer.isBuffer(data) ? data : Buffer.concat([...data]);

/** The chronological split, in window indices: [0, train) trains, [train, windows) validates. */
export function splitWindows(windows: number): { train: number; validation: number } {
  const train = Math.floor(windows * (1 - VALIDATION_SHARE));
  return { train, validation: windows - train };
}

/**
 * Rows, targets and windows from bars. A row is a bar whose every feature is defined and whose next bar exists;
 * Target = 1 when the next close is above this close. Window w covers rows w .. w+L−1 and takes the target of its
 * last row: everything known at that row's close, nothing after.
 */
function rowsAndTargets(bars: Bars) {
  const table = computeFeatures(bars);
  const firstDefined = firstDefinedBar(table);
  const rows: number[] = [];
  for (let i = firstDefined; i < bars.length - 1; i++) rows.push(i);
  const targets = rows.map((i): number => (bars.close[i + 1]! > bars.close[i]! ? 1 : 0));
  return { table, rows, targets };
}

/**
 * The windows of a feature table (row-major `raw`, F values per row, in time order), MinMax-scaled with a scaler
 * fitted on the rows the first `trainWindows` windows cover (rows 0 .. trainWindows+L−2) and applied unchanged to the
 * rest: what the model of a split (or of a walk-forward fold) may know. 0 where a feature is constant there.
 */
export function scaleWindows(
  raw: Float64Array,
  F: number,
  L: number,
  trainWindows: number,
): { X: Float32Array; scaler: { min: number[]; max: number[] } } {
  const rows = raw.length / F;
  const scaler = fitScaler((k, c) => raw[k * F + c]!, F, trainWindows + L - 1);
  const scaled = new Float32Array(rows * F);
  scaleRows((k, c) => raw[k * F + c]!, scaler, 0, rows, scaled);
  return { X: cutWindows(scaled, F, L), scaler };
}

/** MinMax bounds of each of F features over rows 0 .. fitRows−1 of `value(row, feature)`. */
function fitScaler(value: (k: number, c: number) => number, F: number, fitRows: number) {
  const min = new Array<number>(F).fill(Number.POSITIVE_INFINITY);
  const max = new Array<number>(F).fill(Number.NEGATIVE_INFINITY);
  for (let k = 0; k < fitRows; k++) {
    for (let c = 0; c < F; c++) {
      const v = value(k, c);
      if (v < min[c]!) min[c] = v;
      if (v > max[c]!) max[c] = v;
    }
  }
  return { min, max };
}

/** Scales rows [from, to) into `out` (row-major, from its start): 0 where a feature was constant when fitted. */
function scaleRows(
  value: (k: number, c: number) => number,
  { min, max }: { min: number[]; max: number[] },
  from: number,
  to: number,
  out: Float32Array,
): void {
  const F = min.length;
  for (let k = from; k < to; k++) {
    for (let c = 0; c < F; c++) {
      const range = max[c]! - min[c]!;
      out[(k - from) * F + c] = range === 0 ? 0 : (value(k, c) - min[c]!) / range;
    }
  }
}

/**
 * The windows of a scaled feature matrix (row-major, F values per row): window w is rows w .. w+L−1, so
 * [rows−L+1, L, F]. The dataset stores the matrix once, L times smaller than its windows; the trainer cuts them.
 */
export function cutWindows(matrix: Float32Array, F: number, L: number): Float32Array {
  const rows = matrix.length / F;
  const windows = Math.max(0, rows - L + 1);
  const X = new Float32Array(windows * L * F);
  for (let w = 0; w < windows; w++) X.set(matrix.subarray(w * F, (w + L) * F), w * L * F);
  return X;
}

/** The unscaled feature rows of a dataset's features.csv, row-major, in the column order of FEATURE_NAMES. */
export function parseFeatureRows(csv: string, where: string): Float64Array {
  const lines = csv.trimEnd().split('\n');
  const header = lines[0]?.split(',') ?? [];
  const F = FEATURE_NAMES.length;
  if (header.slice(1, F + 1).join() !== FEATURE_NAMES.join())
    throw new InputError(`${where}: the header is not timestamp, the ${F} features, Target`);
  const raw = new Float64Array((lines.length - 1) * F);
  lines.slice(1).forEach((line, k) => {
    const cells = line.split(',');
    for (let c = 0; c < F; c++) {
      const v = Number(cells[c + 1]);
      if (!Number.isFinite(v))
        throw new InputError(`${where}: row ${k + 2}, ${FEATURE_NAMES[c]}: "${cells[c + 1]}"`);
      raw[k * F + c] = v;
    }
  });
  return raw;
}

/**
 * Walk-forward folds: the windows cut in time order into an initial training part and `folds` consecutive test
 * blocks of the validation size, ending on the last window; fold j trains on every window before its block. One
 * fold is the single split. The initial part must hold at least one block's worth of windows.
 */
export function walkForwardFolds(
  windows: number,
  folds: number,
): { initialTrain: number; blocks: Array<{ start: number; end: number }> } {
  const { validation } = splitWindows(windows);
  const initialTrain = windows - folds * validation;
  if (initialTrain < validation) {
    const most = Math.max(0, Math.floor(windows / validation) - 1);
    throw new InputError(
      `evaluation.folds: ${folds} test blocks of ${validation} windows leave ${Math.max(0, initialTrain)} of ${windows} windows for the first fold's training (at least ${validation} are needed): use at most ${most} folds, or a longer history`,
    );
  }
  const blocks = Array.from({ length: folds }, (_, j) => ({
    start: initialTrain + j * validation,
    end: initialTrain + (j + 1) * validation,
  }));
  return { initialTrain, blocks };
}

/** Parses and validates a CSV, then builds every file of a dataset folder. Pure: the caller writes the files. */
export function buildDataset(input: { bytes: Uint8Array; fileName: string; sequenceLength?: number }): {
  manifest: DatasetManifest;
  files: DatasetFiles;
  /** The parsed bars (also what scores stored forecasts). */
  series: PriceSeries;
} {
  const L = input.sequenceLength ?? DEFAULT_SEQUENCE_LENGTH;
  const series = parsePriceCsv(input.bytes, input.fileName);
  const file = input.fileName.replace(/^.*[/\\]/, '');
  const { bars } = series;
  const { table, rows, targets } = rowsAndTargets(bars);
  const windows = Math.max(0, rows.length - L + 1);
  const { train, validation } = splitWindows(windows);
  if (train < 1 || validation < 1) {
    throw new InputError(
      `${file}: too few rows: ${bars.length} bars give ${rows.length} rows with every feature defined, ` +
        `${windows} windows of ${L}; at least ${L + 1} rows (${L + 51} bars) are needed for one training and one validation window`,
    );
  }
  for (let c = 0; c < FEATURE_NAMES.length; c++) {
    for (const r of rows) {
      if (!Number.isFinite(table.columns[c]![r]!)) {
        throw new InputError(`${file}: ${FEATURE_NAMES[c]} is not finite at ${bars.timestamp(r)}`);
      }
    }
  }
  const windowTargets = targets.slice(L - 1);
  const up = windowTargets.reduce((a, b) => a + b, 0);
  const trainUp = windowTargets.slice(0, train).reduce((a, b) => a + b, 0);
  if (trainUp === 0 || trainUp === train) {
    throw new InputError(
      `${file}: the target has one class only in the training windows (${trainUp === 0 ? 'the close never rises' : 'the close always rises'}); nothing to learn`,
    );
  }

  // Row k is bar firstDefined+k (rows are consecutive bars): the table's columns are read in place, never copied.
  const F = FEATURE_NAMES.length;
  const first = rows[0]!;
  const value = (k: number, c: number) => table.columns[c]![first + k]!;
  const { min, max } = fitScaler(value, F, train + L - 1);
  const y = Float32Array.from(windowTargets);

  // Window w ends on row w+L−1, bar rows[w+L−1]; its target is the bar after it. windows.json is DatasetWindows as
  // JSON.stringify writes it, made block by block so that neither its arrays nor its text are ever held whole (the
  // four 200,000-entry arrays and their 14 MB of text were the largest thing ingest held).
  const lastBar = (w: number) => rows[w + L - 1]!;
  const windowFields: Record<keyof DatasetWindows, (w: number) => string | number> = {
    timestamp: (w) => bars.timestamp(lastBar(w)),
    close: (w) => bars.close[lastBar(w)]!,
    nextTimestamp: (w) => bars.timestamp(lastBar(w) + 1),
    nextClose: (w) => bars.close[lastBar(w) + 1]!,
  };
  const windowsJson: Chunks = {
    *[Symbol.iterator]() {
      for (const [j, [name, entry]] of Object.entries(windowFields).entries()) {
        yield Buffer.from(`${j === 0 ? '{' : ','}${JSON.stringify(name)}:[`);
        for (let from = 0; from < windows; from += CHUNK_ROWS) {
          const block = Array.from({ length: Math.min(CHUNK_ROWS, windows - from) }, (_, k) =>
            entry(from + k),
          );
          yield Buffer.from(`${from === 0 ? '' : ','}${JSON.stringify(block).slice(1, -1)}`);
        }
        yield Buffer.from(']');
      }
      yield Buffer.from('}\n');
    },
  };

  const featuresCsv: Chunks = {
    *[Symbol.iterator]() {
      yield Buffer.from(`${['timestamp', ...FEATURE_NAMES, 'Target'].join(',')}\n`);
      // Each cell goes straight into the chunk's bytes: rows built as strings survived long enough to be promoted,
      // and grew V8's old space by ~150 MB over 200,000 rows before a full collection.
      for (let from = 0; from < rows.length; from += CSV_CHUNK_ROWS) {
        const to = Math.min(from + CSV_CHUNK_ROWS, rows.length);
        const out = Buffer.allocUnsafe((to - from) * MAX_CSV_ROW_BYTES);
        const cells = new Float64Array(F);
        let at = 0;
        for (let k = from; k < to; k++) {
          const r = rows[k]!;
          for (let c = 0; c < F; c++) cells[c] = table.columns[c]![r]!;
          at += out.write(`${bars.timestamp(r)},${cells.join(',')},${targets[k]}\n`, at, 'latin1');
        }
        yield out.subarray(0, at);
      }
    },
  };
  const scaledMatrix: Chunks = {
    *[Symbol.iterator]() {
      yield npyHeader('float32', [rows.length, F]);
      for (let from = 0; from < rows.length; from += CHUNK_ROWS) {
        const to = Math.min(from + CHUNK_ROWS, rows.length);
        const out = new Float32Array((to - from) * F);
        scaleRows(value, { min, max }, from, to, out);
        yield Buffer.from(out.buffer);
      }
    },
  };

  const manifest = parseWith(
    DatasetManifest,
    {
      symbol: series.symbol,
      timeframe: series.timeframe,
      features: [...FEATURE_NAMES],
      counts: { days: bars.length, rows: rows.length, windows, train, validation, up, down: windows - up },
      sequenceLength: L,
      scaler: { min, max },
      source: { name: file, sha256: createHash('sha256').update(input.bytes).digest('hex') },
      firstTimestamp: bars.timestamp(rows[0]!),
      lastTimestamp: bars.timestamp(rows[rows.length - 1]!),
    },
    `${file}: dataset manifest`,
  );
  return {
    manifest,
    series,
    files: {
      'features.csv': featuresCsv,
      'X.npy': scaledMatrix,
      'y.npy': encodeNpy({ dtype: 'float32', shape: [windows], data: y }),
      'windows.json': windowsJson,
      'latest.json': `${JSON.stringify(latestWindow(series, L, table))}\n`,
      'dataset.json': `${JSON.stringify(manifest, null, 2)}\n`,
    },
  };
}
