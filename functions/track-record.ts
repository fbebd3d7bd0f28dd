import { posix } from 'node:path';
import { type PriceSeries, parsePriceCsv } from '../shared/csv.ts';
import type { ForecastDoc, TrackRecord } from '../shared/documents.ts';
import { isPermanent, messageOf } from '../shared/errors.ts';
import type { StorageObjectData } from '../shared/events.ts';
import { DOCS } from '../shared/names.ts';
import type { Deps } from '../shared/ports.ts';
import { readForecast, readTrackRecord } from '../shared/records.ts';
import { addToTrackRecord, nextBarLookup, scoreForecasts } from '../shared/track-record.ts';
import { writeIndexPage } from './index-page.ts';
import { nowIso } from './pubsub.ts';

/**
 * Scores the stored forecasts of the series' symbol and timeframe that its bars can settle, and counts them into the
 * track record, in one transaction: a redelivered upload, or the same CSV dropped twice, scores nothing twice.
 * Rewrites the index page when anything was scored. Resolves to how many forecasts were scored.
 */
export async function scoreStoredForecasts(series: PriceSeries, source: string, deps: Deps): Promise<number> {
  const { symbol, timeframe } = series;
  const lookup = nextBarLookup(series);
  const scored = await deps.docs.runTransaction(async (tx) => {
    const doc = await readForecast(tx, symbol, timeframe);
    if (!doc) return [];
    const t = nowIso();
    const result = scoreForecasts(doc, lookup, source, t);
    if (result.scored.length === 0) return [];
    const record = await readTrackRecord(tx, symbol, timeframe);
    tx.set(DOCS.forecast(symbol, timeframe), { ...result.doc, updatedAt: t } satisfies ForecastDoc);
    tx.set(
      DOCS.trackRecord(symbol, timeframe),
      addToTrackRecord(record, result.scored, { symbol, timeframe }, t) satisfies TrackRecord,
    );
    return result.scored;
  });
  if (scored.length === 0) return 0;
  const correct = scored.filter((f) => f.outcome?.correct).length;
  deps.log.info(
    `${symbol} ${timeframe}: scored ${scored.length} forecasts from ${source}, ${correct} correct`,
  );
  await writeIndexPage(deps);
  return scored.length;
}

/**
 * A CSV dropped under `forecast/` scores the stored forecasts its bars settle before it is forecast from. A CSV that
 * cannot be read scores nothing: the forecaster refuses it with the reason, in its attempt document.
 */
export async function scoreForecastUpload(object: StorageObjectData, deps: Deps): Promise<void> {
  let series: PriceSeries;
  try {
    const bytes = await deps.store.readLimited(object.name, deps.settings.TRENDCAST_MAX_UPLOAD_BYTES, {
      generation: String(object.generation),
    });
    series = parsePriceCsv(bytes, posix.basename(object.name));
  } catch (error) {
    if (!isPermanent(error)) throw error;
    deps.log.info(`${object.name}: no forecast scored (${messageOf(error)})`);
    return;
  }
  await scoreStoredForecasts(series, object.name, deps);
}
