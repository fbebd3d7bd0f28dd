import { describe, expect, it } from 'vitest';
import { ingest } from '../../functions/ingest.ts';
import { championInputs, championMetrics } from '../../shared/champion.ts';
import { type PriceSeries, parsePriceCsv } from '../../shared/csv.ts';
import { type Forecast, ForecastDoc, TrackRecord } from '../../shared/documents.ts';
import { evaluateBinary } from '../../shared/metrics.ts';
import { DOCS, gridKeyFor, INDEX_PAGE, TOPICS } from '../../shared/names.ts';
import { readRuns } from '../../shared/records.ts';
import { pValue, wilsonInterval } from '../../shared/significance.ts';
import {
  addToTrackRecord,
  MAX_UNSEEN_GAP_MS,
  nextBarLookup,
  scoreForecasts,
  trackFigures,
} from '../../shared/track-record.ts';
import { CONTINUATION_NAME, continuationCsv, REFERENCE_LAST } from '../helpers/continuation.ts';
import { localDeps, objectFinalized } from '../helpers/deps.ts';
import { tinyConfig } from '../helpers/docs.ts';

/** A series of the given closes through the real parser (open = high = low = close). */
const series = (rows: Array<[string, number]>): PriceSeries =>
  parsePriceCsv(
    Buffer.from(
      `Date,Open,High,Low,Close,Volume\n${rows.map(([t, c]) => `${t},${c},${c},${c},${c},1`).join('\n')}\n`,
    ),
    'TEST.csv',
  );

const forecast = (asOf: string, signal: 'up' | 'down', over: Partial<Forecast> = {}): Forecast => ({
  asOf,
  probabilityUp: signal === 'up' ? 0.6 : 0.4,
  signal,
  threshold: 0.5,
  modelVersion: 1,
  runId: 'run-a',
  source: 'incoming/a.csv',
  createdAt: '2025-11-12T00:00:00.000Z',
  ...over,
});

const doc = (history: Forecast[]): ForecastDoc => ({
  ...history[history.length - 1]!,
  symbol: 'TEST',
  timeframe: '1d',
  history,
  updatedAt: '2025-11-12T00:00:00.000Z',
});

describe('nextBarLookup', () => {
  const bars = series([
    ['2025-11-10', 100],
    ['2025-11-11', 101],
    ['2025-11-12', 99],
  ]);
  const lookup = nextBarLookup(bars);

  it('finds the bar after asOf, with the close of asOf itself when the CSV has it', () => {
    expect(lookup('2025-11-10')).toEqual({ close: 100, nextTimestamp: '2025-11-11', nextClose: 101 });
    expect(lookup('2025-11-11')).toEqual({ close: 101, nextTimestamp: '2025-11-12', nextClose: 99 });
  });

  it('has nothing for the last bar, nor for a timestamp the CSV covers but does not hold', () => {
    expect(lookup('2025-11-12')).toBeUndefined();
    expect(lookup('2025-11-10T12:00:00+05:30')).toBeUndefined();
    expect(lookup('not a date')).toBeUndefined();
  });

  it('takes the first bar of a CSV that starts after asOf only within a weekend and a holiday', () => {
    expect(lookup('2025-11-07')).toEqual({ close: undefined, nextTimestamp: '2025-11-10', nextClose: 100 });
    expect(Date.parse('2025-11-10') - Date.parse('2025-11-05')).toBeGreaterThan(MAX_UNSEEN_GAP_MS);
    expect(lookup('2025-11-05')).toBeUndefined();
  });
});

describe('scoreForecasts', () => {
  const bars = nextBarLookup(
    series([
      ['2025-11-12', 100],
      ['2025-11-13', 102],
      ['2025-11-14', 101],
    ]),
  );

  it('scores what the bars settle, with the close the forecast saw when the CSV starts at the next bar', () => {
    const stored = doc([
      forecast('2025-11-11', 'up', { close: 99 }), // the CSV starts the day after: 99 -> 100, up, right
      forecast('2025-11-13', 'up', { modelVersion: 2 }), // 102 -> 101: down, wrong
      forecast('2025-11-14', 'down', { modelVersion: 2 }), // its next bar has not come
    ]);
    const { doc: scored, scored: fresh } = scoreForecasts(stored, bars, 'incoming/b.csv', 'T');
    expect(fresh.map((f) => f.asOf)).toEqual(['2025-11-11', '2025-11-13']);
    expect(scored.history[0]!.outcome).toEqual({
      close: 99,
      nextClose: 100,
      nextTimestamp: '2025-11-12',
      up: true,
      correct: true,
      scoredAt: 'T',
      source: 'incoming/b.csv',
    });
    expect(scored.history[1]!.outcome).toMatchObject({ up: false, correct: false });
    expect(scored.history[2]!.outcome).toBeUndefined();
    expect(scored.outcome).toBeUndefined(); // the latest (2025-11-14) is not settled yet
  });

  it('never scores a forecast twice: the same CSV again scores nothing', () => {
    const once = scoreForecasts(doc([forecast('2025-11-12', 'down')]), bars, 'incoming/b.csv', 'T1');
    expect(once.scored).toHaveLength(1);
    expect(once.doc.outcome).toMatchObject({ up: true, correct: false }); // the top level is that forecast too
    const twice = scoreForecasts(once.doc, bars, 'incoming/b.csv', 'T2');
    expect(twice.scored).toEqual([]);
    expect(twice.doc).toEqual(once.doc);
  });

  it('leaves a forecast without a stored close alone when the CSV does not reach back to its bar', () => {
    expect(scoreForecasts(doc([forecast('2025-11-11', 'up')]), bars, 'b', 'T').scored).toEqual([]);
  });
});

describe('track records', () => {
  it('counts hits against the commoner outcome, with its Wilson interval and exact p-value', () => {
    const t = trackFigures({ scored: 20, correct: 15, ups: 12 });
    expect(t.hitRate).toBe(0.75);
    expect(t.baselineRate).toBe(0.6);
    expect(t.interval).toEqual(wilsonInterval(15, 20));
    expect(t.pValue).toBeCloseTo(pValue(15, 20, 0.6), 12);
    // scipy.stats.binomtest(15, 20, 0.6, alternative='greater').pvalue
    expect(t.pValue).toBeCloseTo(0.125599, 5);
    expect(trackFigures({ scored: 0, correct: 0, ups: 0 })).toMatchObject({
      hitRate: null,
      baselineRate: null,
      pValue: 1,
      interval: { low: 0, high: 1 },
    });
  });

  it('adds scored forecasts overall and per model version', () => {
    const scored = (v: number, up: boolean, correct: boolean) =>
      forecast('2025-11-11', 'up', {
        modelVersion: v,
        outcome: { close: 1, nextClose: 2, nextTimestamp: 'x', up, correct, scoredAt: 'T', source: 's' },
      });
    const first = addToTrackRecord(
      undefined,
      [scored(1, true, true), scored(1, false, false)],
      { symbol: 'TEST', timeframe: '1d' },
      'T1',
    );
    const second = addToTrackRecord(
      first,
      [scored(2, true, true)],
      { symbol: 'TEST', timeframe: '1d' },
      'T2',
    );
    expect(second).toMatchObject({ scored: 3, correct: 2, ups: 2, symbol: 'TEST', updatedAt: 'T2' });
    expect(second.byVersion['1']).toMatchObject({ scored: 2, correct: 1, ups: 1, hitRate: 0.5 });
    expect(second.byVersion['2']).toMatchObject({ scored: 1, correct: 1, ups: 1, hitRate: 1 });
  });
});

describe('the champion on a run’s windows', () => {
  const F = 27;
  const rows = 10;
  const raw = Float64Array.from({ length: rows * F }, (_, i) => i);
  const model = (L: number) => ({
    symbol: 'TEST',
    timeframe: '1d',
    sequenceLength: L,
    features: Array.from({ length: F }, (_, c) => `f${c}`),
    scaler: { min: Array(F).fill(0), max: Array(F).fill(rows * F) },
    threshold: 0.5,
  });

  it('reads, for each window, its own last rows ending on the same bar, scaled with its own scaler', () => {
    // Dataset windows of 4 rows: window 5 ends on row 8. A champion reading 2 rows sees rows 7 and 8.
    const x = championInputs(raw, 4, model(2), { from: 5, to: 7 }, 'model v1');
    expect(x).toHaveLength(2 * 2 * F);
    expect(x[0]).toBeCloseTo((7 * F) / (rows * F), 6);
    expect(x[2 * F]).toBeCloseTo((8 * F) / (rows * F), 6); // window 6 starts on row 8
  });

  it('refuses a champion whose windows reach before the dataset’s first row', () => {
    expect(() => championInputs(raw, 4, model(9), { from: 2, to: 7 }, 'model v1')).toThrow(
      /model v1 reads windows of 9 bars; the run's first validation window has only 6 rows/,
    );
  });

  it('is judged with exactly the figures a trial gets', () => {
    const labels = [1, 0, 1, 1, 0, 0];
    const p = [0.7, 0.2, 0.4, 0.9, 0.6, 0.1];
    const m = championMetrics(
      labels,
      p,
      { close: [1, 1, 1, 1, 1, 1], nextClose: [2, 1, 2, 2, 1, 1] },
      {
        threshold: 0.5,
        costBps: 0,
        allowShort: false,
        periodsPerYear: 252,
      },
    );
    expect(m).toMatchObject({ ...evaluateBinary(labels, p), windows: 6 });
    expect(m.valLoss).toBeGreaterThan(0);
    expect(m.backtest.trades).toBeGreaterThan(0);
  });
});

describe('scoring at ingest', () => {
  const stored = (): ForecastDoc =>
    doc([
      forecast(REFERENCE_LAST.timestamp, 'up', {
        close: REFERENCE_LAST.close,
        runId: 'run-first',
        source: 'incoming/a.csv',
      }),
    ]);
  const symbolDoc = (d: ForecastDoc): ForecastDoc => ({ ...d, symbol: 'RELIANCE', timeframe: '1d' });

  it('scores from a training drop even when its grid is refused, and never twice (redelivery, forecast/ drop)', async () => {
    const deps = localDeps({ prefix: 'score-' });
    await deps.docs.set(DOCS.forecast('RELIANCE', '1d'), symbolDoc(stored()));
    const key = `incoming/${CONTINUATION_NAME}`;
    await deps.store.write(key, continuationCsv());
    // A grid that turns the gate off, which this deployment does not allow: the run fails at ingest.
    await deps.store.write(gridKeyFor(key), JSON.stringify({ gate: false, configs: [tinyConfig('t')] }));
    await ingest(objectFinalized(key), deps);
    const run = (await readRuns(deps.docs))[0]!;
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/gate/);
    const record = TrackRecord.parse(await deps.docs.get(DOCS.trackRecord('RELIANCE', '1d')));
    expect(record).toMatchObject({ scored: 1, symbol: 'RELIANCE', timeframe: '1d' });
    expect(await deps.store.exists(INDEX_PAGE)).toBe(true);

    await ingest(objectFinalized(key), deps); // the same event again
    const drop = `forecast/${CONTINUATION_NAME}`;
    await deps.store.write(drop, continuationCsv());
    await ingest(objectFinalized(drop), deps); // the same bars under forecast/
    expect(TrackRecord.parse(await deps.docs.get(DOCS.trackRecord('RELIANCE', '1d')))).toEqual(record);
    const scored = ForecastDoc.parse(await deps.docs.get(DOCS.forecast('RELIANCE', '1d')));
    expect(scored.history[0]!.outcome).toMatchObject({
      source: key,
      close: REFERENCE_LAST.close,
      nextTimestamp: '2025-11-12',
    });
  });

  it('a forecast/ drop scores too, and one that cannot be read scores nothing and is still routed', async () => {
    const deps = localDeps({ prefix: 'score-drop-' });
    await deps.docs.set(DOCS.forecast('RELIANCE', '1d'), symbolDoc(stored()));
    const bad = 'forecast/prices.csv';
    await deps.store.write(bad, 'Date,Open\n2024-01-01,x\n');
    await ingest(objectFinalized(bad), deps);
    expect(await deps.docs.get(DOCS.trackRecord('RELIANCE', '1d'))).toBeUndefined();
    expect(deps.bus.published.get(TOPICS.forecastRequests)).toHaveLength(1);

    const drop = `forecast/${CONTINUATION_NAME}`;
    await deps.store.write(drop, continuationCsv());
    await ingest(objectFinalized(drop), deps);
    expect(TrackRecord.parse(await deps.docs.get(DOCS.trackRecord('RELIANCE', '1d')))).toMatchObject({
      scored: 1,
    });
  });
});
