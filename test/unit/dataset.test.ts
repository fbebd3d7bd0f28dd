import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  buildDataset,
  cutWindows,
  type DatasetFiles,
  datasetFileBytes,
  parseFeatureRows,
  scaleWindows,
  splitWindows,
  walkForwardFolds,
} from '../../shared/dataset.ts';
import { DatasetManifest, DatasetWindows } from '../../shared/manifest.ts';
import { decodeNpy } from '../../shared/npy.ts';
import { REFERENCE_CSV } from '../helpers/cli.ts';
import { intradayCsv } from '../helpers/intraday.ts';

const csvOf = (files: DatasetFiles) => datasetFileBytes(files['features.csv']).toString('utf8').trim();
const reference = () => buildDataset({ bytes: readFileSync(REFERENCE_CSV), fileName: REFERENCE_CSV });

describe('buildDataset on the reference CSV', () => {
  it('gives 247 days, 197 rows and 138 windows (110 training, 28 validation), 72 up and 66 down', () => {
    const { manifest } = reference();
    expect(DatasetManifest.parse(manifest).counts).toEqual({
      days: 247,
      rows: 197,
      windows: 138,
      train: 110,
      validation: 28,
      up: 72,
      down: 66,
    });
    expect(manifest.sequenceLength).toBe(60);
    expect(manifest.source.name).toBe('Quote-Equity-RELIANCE-EQ-12-11-2024-to-12-11-2025.csv');
  });

  it('windows end on their target row: window w is features.csv rows w..w+59 scaled, with the target of row w+59', () => {
    const { manifest, files } = reference();
    const matrix = decodeNpy(datasetFileBytes(files['X.npy']));
    const y = decodeNpy(files['y.npy']);
    expect(matrix.shape).toEqual([197, 27]);
    const X = { data: cutWindows(matrix.data as Float32Array, 27, 60) };
    expect(y.shape).toEqual([138]);
    const lines = csvOf(files).split('\n');
    expect(lines).toHaveLength(198);
    const rows = lines.slice(1).map((l) => l.split(',').slice(1).map(Number));
    const { min, max } = manifest.scaler;
    for (const w of [0, 57, 137]) {
      const last = rows[w + 59]!;
      expect(y.data[w]).toBe(last[27]);
      for (const c of [3, 11, 26]) {
        const scaled = (last[c]! - min[c]!) / (max[c]! - min[c]!);
        expect(X.data[(w * 60 + 59) * 27 + c]).toBeCloseTo(scaled, 6);
      }
    }
  });

  it("records each window's last bar and target bar in windows.json: the close the target compares", () => {
    const { files } = reference();
    const w = DatasetWindows.parse(JSON.parse(datasetFileBytes(files['windows.json']).toString('utf8')));
    const y = decodeNpy(files['y.npy']);
    expect(w.timestamp).toHaveLength(138);
    // the CSV is newest first: 11-Nov-2025 is its last bar, the target of the last window; 10-Nov-2025 ends it
    expect(w.timestamp[137]).toBe('2025-11-10');
    expect(w.nextTimestamp[137]).toBe('2025-11-11');
    expect(w.close[137]).toBe(1489.3);
    expect(w.nextClose[137]).toBe(1493.4);
    const rows = csvOf(files).split('\n').slice(1);
    for (let i = 0; i < 138; i++) {
      expect(y.data[i]).toBe(w.nextClose[i]! > w.close[i]! ? 1 : 0);
      expect(rows[i + 59]!.split(',')[0]).toBe(w.timestamp[i]);
      if (i > 0) expect(w.timestamp[i - 1]! < w.timestamp[i]!).toBe(true);
    }
  });

  it('writes windows.json block by block exactly as JSON.stringify writes it whole, over many blocks', () => {
    const { files, manifest } = buildDataset({ bytes: Buffer.from(intradayCsv()), fileName: 'INFY.csv' });
    const text = datasetFileBytes(files['windows.json']).toString('utf8');
    const w = DatasetWindows.parse(JSON.parse(text));
    expect(w.timestamp).toHaveLength(manifest.counts.windows);
    expect(manifest.counts.windows).toBeGreaterThan(4096 * 4);
    expect(text).toBe(`${JSON.stringify(w)}\n`);
  });

  it('fits the scaler only on the rows the training windows cover', () => {
    const { manifest, files } = reference();
    const rows = csvOf(files)
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(',').slice(1).map(Number));
    const covered = rows.slice(0, 110 + 59); // rows 0..168
    const close = 3;
    expect(manifest.scaler.min[close]).toBe(Math.min(...covered.map((r) => r[close]!)));
    expect(manifest.scaler.max[close]).toBe(Math.max(...covered.map((r) => r[close]!)));
    // Validation rows are not looked at: some of their values fall outside the fitted range.
    const outside = manifest.features.filter(
      (_, c) => Math.max(...rows.map((r) => r[c]!)) > manifest.scaler.max[c]!,
    );
    expect(outside.length).toBeGreaterThan(0);
  });

  it('splits the last 20% of windows for validation', () => {
    expect(splitWindows(138)).toEqual({ train: 110, validation: 28 });
    expect(splitWindows(137)).toEqual({ train: 109, validation: 28 });
  });

  it('writes numbers at full precision and ISO timestamps', () => {
    const line = csvOf(reference().files).split('\n')[1]!;
    expect(line.startsWith('2025-01-23,1270,1277.35,1261.6,1263.65,8720682,')).toBe(true);
    expect(line).toMatch(/,1266\.1400000000003,/);
  });
});

describe('walk-forward folds', () => {
  it('one fold is the single split; k folds are k blocks of the validation size ending on the last window', () => {
    expect(walkForwardFolds(138, 1)).toEqual({ initialTrain: 110, blocks: [{ start: 110, end: 138 }] });
    expect(walkForwardFolds(138, 3)).toEqual({
      initialTrain: 54,
      blocks: [
        { start: 54, end: 82 },
        { start: 82, end: 110 },
        { start: 110, end: 138 },
      ],
    });
  });

  it('refuses more folds than the history holds, and says how many fit', () => {
    expect(() => walkForwardFolds(138, 4)).toThrow(
      "evaluation.folds: 4 test blocks of 28 windows leave 26 of 138 windows for the first fold's training (at least 28 are needed): use at most 3 folds, or a longer history",
    );
  });

  it("rescales from features.csv exactly as the dataset did: fitted on the fold's training rows only", () => {
    const { manifest, files } = reference();
    const raw = parseFeatureRows(csvOf(files), 'features.csv');
    const same = scaleWindows(raw, 27, 60, 110);
    expect(same.scaler).toEqual(manifest.scaler);
    const stored = decodeNpy(datasetFileBytes(files['X.npy'])).data as Float32Array;
    expect(Buffer.from(same.X.buffer).equals(Buffer.from(cutWindows(stored, 27, 60).buffer))).toBe(true);
    const earlier = scaleWindows(raw, 27, 60, 54);
    // fitted on rows 0..112 only: the close's range is that of those rows
    const closes = Array.from({ length: 113 }, (_, k) => raw[k * 27 + 3]!);
    expect(earlier.scaler.max[3]).toBe(Math.max(...closes));
    expect(earlier.scaler.min[3]).toBe(Math.min(...closes));
  });

  it('refuses a features.csv that is not one', () => {
    expect(() => parseFeatureRows('a,b\n1,2\n', 'x/features.csv')).toThrow(/x\/features\.csv: the header/);
  });
});
