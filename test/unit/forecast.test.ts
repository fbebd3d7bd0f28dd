import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parsePriceCsv } from '../../shared/csv.ts';
import { buildDataset, cutWindows, datasetFileBytes } from '../../shared/dataset.ts';
import { checkFits, latestWindow, ModelPreprocessing, scaleWindow, signalOf } from '../../shared/forecast.ts';
import { decodeNpy } from '../../shared/npy.ts';
import { REFERENCE_CSV } from '../helpers/cli.ts';

const bytes = readFileSync(REFERENCE_CSV);
const series = parsePriceCsv(bytes, REFERENCE_CSV);
const { manifest, files } = buildDataset({ bytes, fileName: REFERENCE_CSV });
const preprocessing = ModelPreprocessing.parse({
  symbol: manifest.symbol,
  timeframe: manifest.timeframe,
  sequenceLength: 60,
  features: manifest.features,
  scaler: manifest.scaler,
  threshold: 0.5,
});

describe('the forecast input', () => {
  it('is the 60 bars ending on the last one, 11-Nov-2025, which has no target yet', () => {
    const input = latestWindow(series, 60);
    expect(input).toMatchObject({ symbol: 'RELIANCE', timeframe: '1d', asOf: '2025-11-11' });
    expect(input.rows).toHaveLength(60);
    expect(input.rows.at(-1)![3]).toBe(1493.4); // Close
    // the bar before it is features.csv's last row
    const last = datasetFileBytes(files['features.csv'])
      .toString('utf8')
      .trim()
      .split('\n')
      .at(-1)!
      .split(',');
    expect(last[0]).toBe('2025-11-10');
    expect(input.rows.at(-2)).toEqual(last.slice(1, 28).map(Number));
    expect(JSON.parse(files['latest.json'])).toEqual(input);
  });

  it("is scaled as the dataset's windows: the last window shifted by one bar", () => {
    const scaled = scaleWindow(preprocessing, latestWindow(series, 60));
    const F = 27;
    const X = cutWindows(decodeNpy(datasetFileBytes(files['X.npy'])).data as Float32Array, F, 60);
    const lastWindow = X.subarray(137 * 60 * F, 138 * 60 * F);
    expect(Array.from(scaled.subarray(0, 59 * F))).toEqual(Array.from(lastWindow.subarray(F)));
  });

  it('refuses fewer than 60 usable bars and says how many there are', () => {
    // the newest 100 bars: the indicators' 50-bar warm-up leaves 51 usable
    const lines = bytes.toString('utf8').split('\n');
    const short = parsePriceCsv(Buffer.from(lines.slice(0, 101).join('\n')), REFERENCE_CSV);
    expect(() => latestWindow(short, 60)).toThrow(
      /RELIANCE 1d: 51 usable bars .*of 100\); a forecast needs 60/,
    );
  });

  it('refuses bars of another symbol or timeframe than the model', () => {
    const input = { ...latestWindow(series, 60), symbol: 'INFY' };
    expect(() => checkFits(preprocessing, input, 'model v1')).toThrow(
      'model v1: the bars are INFY 1d; the model is RELIANCE 1d',
    );
    expect(() => checkFits(preprocessing, { ...input, symbol: 'RELIANCE', timeframe: '1h' }, 'm')).toThrow(
      /the bars are RELIANCE 1h/,
    );
  });

  it('says up at or above the threshold, as the backtest goes long', () => {
    expect(signalOf(0.5, 0.5)).toBe('up');
    expect(signalOf(0.49, 0.5)).toBe('down');
  });
});

/** Every module a file imports statically, transitively (dynamic `import()` is what keeps tfjs out). */
function staticImports(file: string, seen = new Set<string>()): Set<string> {
  const code = readFileSync(file, 'utf8');
  for (const [, specifier] of code.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
    if (!specifier!.startsWith('.')) {
      seen.add(specifier!);
      continue;
    }
    const target = resolve(dirname(file), specifier!);
    if (seen.has(target)) continue;
    seen.add(target);
    staticImports(target, seen);
  }
  return seen;
}

describe('routing a forecast', () => {
  it('loads no TensorFlow.js in ingest or the collector: only the forecaster imports it, on demand', () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    for (const handler of ['functions/ingest.ts', 'functions/collector.ts', 'functions/forecast.ts']) {
      const graph = [...staticImports(join(root, handler))];
      expect(
        graph.filter((m) => m.startsWith('@tensorflow')),
        handler,
      ).toEqual([]);
      expect(graph, handler).toContain('zod'); // the walk does reach the packages
    }
    expect([...staticImports(join(root, 'trainer/predict.ts'))]).toContain('@tensorflow/tfjs');
  });
});
