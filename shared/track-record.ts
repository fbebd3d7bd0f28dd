// Has the model been right? Stored forecasts scored against the bars of later CSVs, and the running record. Pure.
import type { PriceSeries } from './csv.ts';
import type {
  Forecast,
  ForecastDoc,
  ForecastOutcome,
  ScoredCounts,
  TrackFigures,
  TrackRecord,
} from './documents.ts';
import { pValue, wilsonInterval } from './significance.ts';

/**
 * The bar after `asOf` in a CSV, and the close of `asOf` when the CSV has that bar too; undefined when the CSV cannot
 * say which bar came next.
 */
export type NextBarLookup = (
  asOf: string,
) => { close: number | undefined; nextTimestamp: string; nextClose: number } | undefined;

/**
 * A CSV that starts after `asOf` settles it with its first bar only when that bar is at most this far away: a weekend
 * and a holiday. Further on, bars may be missing in between, and the first bar of the CSV is not known to be the next.
 */
export const MAX_UNSEEN_GAP_MS = 4 * 24 * 3600_000;

/**
 * Finds the bar after a timestamp in a series (bars in time order) by binary search on the parsed time, so scoring
 * 500 forecasts against 200,000 bars builds no index of every bar. When the series reaches back to `asOf`, that very
 * bar must be in it (same timestamp text) and the next bar is the one after it; when it starts later, its first bar is
 * the next only within MAX_UNSEEN_GAP_MS.
 */
export function nextBarLookup(series: PriceSeries): NextBarLookup {
  const { bars } = series;
  // A timestamp's text has whole seconds; the parsed time may carry the file's milliseconds.
  const second = (i: number) => Math.floor(bars.time[i]! / 1000) * 1000;
  return (asOf) => {
    const t = Date.parse(asOf);
    if (Number.isNaN(t)) return undefined;
    // The first bar strictly after asOf.
    let lo = 0;
    let hi = bars.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (second(mid) <= t) lo = mid + 1;
      else hi = mid;
    }
    if (lo === bars.length) return undefined;
    const after = { nextTimestamp: bars.timestamp(lo), nextClose: bars.close[lo]! };
    if (lo === 0) return second(0) - t <= MAX_UNSEEN_GAP_MS ? { close: undefined, ...after } : undefined;
    return bars.timestamp(lo - 1) === asOf ? { close: bars.close[lo - 1]!, ...after } : undefined;
  };
}

/** Which forecasts are the same one: the same model version for the same bar gives the same answer. */
export const forecastKey = (f: Pick<Forecast, 'asOf' | 'modelVersion'>) => `${f.asOf}@v${f.modelVersion}`;

/**
 * Scores every unscored forecast of the document whose bar and next bar the lookup has. A scored forecast is never
 * scored again, so the same CSV dropped twice scores nothing the second time. Returns the document as it is to be
 * stored and the forecasts newly scored (with their outcomes).
 */
export function scoreForecasts(
  doc: ForecastDoc,
  lookup: NextBarLookup,
  source: string,
  scoredAt: string,
): { doc: ForecastDoc; scored: Forecast[] } {
  const scored: Forecast[] = [];
  const outcomes = new Map<string, ForecastOutcome>();
  const history = doc.history.map((f) => {
    if (f.outcome) return f;
    const bar = lookup(f.asOf);
    const close = bar?.close ?? f.close;
    if (!bar || close === undefined) return f;
    const up = bar.nextClose > close;
    const outcome: ForecastOutcome = {
      close,
      nextClose: bar.nextClose,
      nextTimestamp: bar.nextTimestamp,
      up,
      correct: (f.signal === 'up') === up,
      scoredAt,
      source,
    };
    const done = { ...f, outcome };
    scored.push(done);
    outcomes.set(forecastKey(f), outcome);
    return done;
  });
  // The top level repeats the latest forecast: it gets the same outcome as its copy in the history.
  const latest = doc.outcome ? undefined : outcomes.get(forecastKey(doc));
  return { doc: { ...doc, ...(latest ? { outcome: latest } : {}), history }, scored };
}

/** What counts say: the hit rate, its Wilson interval, and the p-value against always answering the commoner outcome. */
export function trackFigures(counts: ScoredCounts): TrackFigures {
  const { scored, correct, ups } = counts;
  const baselineRate = scored ? Math.max(ups, scored - ups) / scored : null;
  return {
    scored,
    correct,
    ups,
    hitRate: scored ? correct / scored : null,
    interval: wilsonInterval(correct, scored),
    baselineRate,
    pValue: baselineRate === null ? 1 : pValue(correct, scored, baselineRate),
  };
}

const add = (counts: ScoredCounts | undefined, f: Forecast): ScoredCounts => ({
  scored: (counts?.scored ?? 0) + 1,
  correct: (counts?.correct ?? 0) + (f.outcome!.correct ? 1 : 0),
  ups: (counts?.ups ?? 0) + (f.outcome!.up ? 1 : 0),
});

/** The record with newly scored forecasts counted in, overall and under their model versions. */
export function addToTrackRecord(
  record: TrackRecord | undefined,
  scored: readonly Forecast[],
  where: { symbol: string; timeframe: string },
  updatedAt: string,
): TrackRecord {
  let overall: ScoredCounts = record ?? { scored: 0, correct: 0, ups: 0 };
  const byVersion: Record<string, ScoredCounts> = { ...(record?.byVersion ?? {}) };
  for (const f of scored) {
    overall = add(overall, f);
    byVersion[String(f.modelVersion)] = add(byVersion[String(f.modelVersion)], f);
  }
  return {
    ...trackFigures(overall),
    symbol: where.symbol,
    timeframe: where.timeframe,
    byVersion: Object.fromEntries(Object.entries(byVersion).map(([v, c]) => [v, trackFigures(c)])),
    updatedAt,
  };
}
