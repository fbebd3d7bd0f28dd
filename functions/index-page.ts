import { type IndexEntry, type IndexInput, type IndexRun, renderIndexPage } from '../report/index-page.ts';
import type { RunDoc } from '../shared/documents.ts';
import { INDEX_PAGE, REPORT } from '../shared/names.ts';
import type { Deps } from '../shared/ports.ts';
import { readForecasts, readModels, readRuns, readTrackRecords } from '../shared/records.ts';

type IndexDeps = Pick<Deps, 'store' | 'docs' | 'log'>;

const indexRun = (run: RunDoc): IndexRun => ({
  runId: run.runId,
  status: run.status,
  createdAt: run.createdAt,
  reason: run.reason,
  error: run.error,
  promotion: run.promotion,
  champion: run.champion,
  source: run.source,
  report: run.reportUri ? REPORT.object(run.runId) : null,
});

/** What the index shows, from the documents; stamped with the newest document's time, so it is repeatable. */
async function gatherIndex(deps: IndexDeps): Promise<IndexInput> {
  const [models, forecasts, records, runs] = await Promise.all([
    readModels(deps.docs),
    readForecasts(deps.docs),
    readTrackRecords(deps.docs),
    readRuns(deps.docs),
  ]);
  const entries = new Map<string, IndexEntry>();
  const entry = (symbol: string, timeframe: string) => {
    const key = `${symbol}\u0000${timeframe}`;
    let e = entries.get(key);
    if (!e) {
      e = { symbol, timeframe, model: null, forecast: null, trackRecord: null, runs: [] };
      entries.set(key, e);
    }
    return e;
  };
  for (const m of models) entry(m.symbol, m.timeframe).model = m;
  for (const f of forecasts) entry(f.symbol, f.timeframe).forecast = f;
  for (const r of records) entry(r.symbol, r.timeframe).trackRecord = r;
  const newestFirst = [...runs].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  const refused: IndexRun[] = [];
  for (const run of newestFirst) {
    if (run.symbol && run.timeframe) entry(run.symbol, run.timeframe).runs.push(indexRun(run));
    else if (run.status === 'failed') refused.push(indexRun(run));
  }
  const times = [...models, ...forecasts, ...records, ...runs].map((d) => d.updatedAt);
  return {
    entries: [...entries.values()].sort(
      (a, b) => a.symbol.localeCompare(b.symbol) || a.timeframe.localeCompare(b.timeframe),
    ),
    refused,
    updatedAt: times.reduce((a, b) => (b > a ? b : a), '1970-01-01T00:00:00.000Z'),
  };
}

/**
 * Rewrites `index.html` at the bucket's root from the documents. Two writers at once could leave the older picture
 * last, so after each write the documents are read again, and the page rewritten until it shows what they say.
 */
export async function writeIndexPage(deps: IndexDeps): Promise<string> {
  let written: string | undefined;
  for (let pass = 0; pass < 3; pass++) {
    const html = renderIndexPage(await gatherIndex(deps));
    if (html === written) break;
    await deps.store.write(INDEX_PAGE, html, 'text/html; charset=utf-8');
    written = html;
  }
  deps.log.debug(`index page written: ${deps.store.baseUri}${INDEX_PAGE}`);
  return deps.store.baseUri + INDEX_PAGE;
}
