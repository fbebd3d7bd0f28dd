import type { ForecastDoc, ModelDoc, RunDoc, TrackFigures, TrackRecord } from '../shared/documents.ts';
import { CSS, esc, facts, fixed, pct, pValue, table, when } from './html.ts';

/** One run as the index lists it; `report` is the link to its report, relative to the index, when it has one. */
export type IndexRun = Pick<
  RunDoc,
  'runId' | 'status' | 'createdAt' | 'reason' | 'error' | 'promotion' | 'champion' | 'source'
> & { report: string | null };

/** Everything the index shows of one symbol and timeframe. */
export type IndexEntry = {
  symbol: string;
  timeframe: string;
  model: ModelDoc | null;
  forecast: ForecastDoc | null;
  trackRecord: TrackRecord | null;
  /** Newest first. */
  runs: IndexRun[];
};

export type IndexInput = {
  /** Sorted by symbol, then timeframe. */
  entries: IndexEntry[];
  /** Refused uploads that never got a symbol, newest first. */
  refused: IndexRun[];
  updatedAt: string;
};

/** How many runs each symbol lists; older ones stay in Firestore and under `runs/`. */
export const INDEX_RUNS_PER_SYMBOL = 20;

const anchor = (e: Pick<IndexEntry, 'symbol' | 'timeframe'>) =>
  `${e.symbol}-${e.timeframe}`.replace(/[^\w-]/g, '_');

function modelFacts(model: ModelDoc | null): string {
  const c = model?.current;
  if (!c) return '<p class="note">No model yet: no run of this symbol has passed the promotion gate.</p>';
  return facts([
    ['current model', `v${esc(c.version)} <span class="note">(${esc(c.config)})</span>`],
    ['F1 when promoted', fixed(c.f1)],
    ['accuracy', pct(c.accuracy)],
    ['promoted', when(c.promotedAt)],
    ['from run', esc(c.runId)],
    ['versions', esc(model.history.length)],
  ]);
}

function forecastFacts(f: ForecastDoc | null): string {
  if (!f) return '<p class="note">No forecast yet.</p>';
  const outcome = f.outcome
    ? `${f.outcome.correct ? '<span class="yes">right</span>' : '<span class="no">wrong</span>'}: the close went ${f.outcome.up ? 'up' : 'down'} (${fixed(f.outcome.close, 2)} → ${fixed(f.outcome.nextClose, 2)})`
    : 'not scored yet: the next bar has not arrived in a CSV';
  return `<p class="sentence">After ${esc(f.asOf)}: <b>${esc(f.signal)}</b>, probability of an up close ${pct(f.probabilityUp)} (model v${esc(f.modelVersion)}).</p>
<p>${outcome}</p>`;
}

const figureCells = (t: TrackFigures) => [
  esc(t.scored),
  esc(t.correct),
  pct(t.hitRate),
  t.scored ? `${pct(t.interval.low)}–${pct(t.interval.high)}` : '–',
  pct(t.baselineRate),
  t.scored ? pValue(t.pValue) : '–',
];

function trackRecordSection(record: TrackRecord | null): string {
  if (!record || record.scored === 0)
    return '<p class="note">No forecast scored yet: a forecast is scored when a later CSV holds the bar it was for.</p>';
  const versions = Object.entries(record.byVersion)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([v, t]) => [`v${esc(v)}`, ...figureCells(t)]);
  const head = ['model', 'scored', 'correct', 'hit rate', '95% interval', 'baseline', 'p-value'];
  const verdict =
    record.pValue < 0.05
      ? 'better than always answering the commoner outcome (p < 0.05)'
      : 'not yet distinguishable from always answering the commoner outcome';
  return `<p>${esc(record.correct)} of ${esc(record.scored)} forecasts right (${pct(record.hitRate)}): ${verdict}.</p>
${table(head, [['all', ...figureCells(record)], ...versions], 'numbers')}`;
}

function runCells(run: IndexRun): string[] {
  const link = run.report ? `<a href="${esc(run.report)}">${esc(run.runId)}</a>` : esc(run.runId);
  const outcome =
    run.status === 'promoted'
      ? `promoted ${esc(run.promotion?.config)} as v${esc(run.promotion?.version)}`
      : run.status === 'failed'
        ? esc(run.error)
        : esc(run.reason ?? '');
  return [
    link,
    `<span class="state ${esc(run.status)}">${esc(run.status)}</span>`,
    when(run.createdAt),
    outcome,
  ];
}

function entrySection(e: IndexEntry): string {
  const runs = e.runs.slice(0, INDEX_RUNS_PER_SYMBOL);
  const more =
    e.runs.length > runs.length
      ? `<p class="note">${e.runs.length - runs.length} older runs not listed.</p>`
      : '';
  return `<section id="${anchor(e)}" class="symbol"><h2>${esc(e.symbol)} <span class="note">${esc(e.timeframe)}</span></h2>
<h3>Model</h3>
${modelFacts(e.model)}
<h3>Latest forecast</h3>
${forecastFacts(e.forecast)}
<h3>Track record</h3>
${trackRecordSection(e.trackRecord)}
<h3>Runs</h3>
${table(['run', 'status', 'uploaded', 'outcome'], runs.map(runCells), 'runs')}${more}
</section>`;
}

const INDEX_CSS = `
nav ul{list-style:none;padding:0;margin:0;display:flex;flex-wrap:wrap;gap:6px 16px}
.state{font-weight:600}
table.runs td:nth-child(-n+3){white-space:nowrap}
table.runs td:last-child{min-width:16em}
.state.promoted{color:#176f2c}
.state.rejected{color:#8a5a00}
.state.failed{color:#a4161a}
`;

/**
 * The bucket's front page: every symbol and timeframe with its current model, latest forecast, track record and
 * runs (linked to their reports). Self-contained like the run report: inline CSS, no script, nothing loaded from
 * anywhere. Pure: the same input gives the same bytes.
 */
export function renderIndexPage(input: IndexInput): string {
  const nav = input.entries.length
    ? `<nav><ul>${input.entries.map((e) => `<li><a href="#${anchor(e)}">${esc(e.symbol)} ${esc(e.timeframe)}</a></li>`).join('')}</ul></nav>`
    : '<p class="note">No symbol yet: drop a CSV under <code>incoming/</code>.</p>';
  const refused = input.refused.length
    ? `<section id="refused"><h2>Refused uploads</h2>
${table(['run', 'status', 'uploaded', 'why'], input.refused.slice(0, INDEX_RUNS_PER_SYMBOL).map(runCells), 'runs')}
</section>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>trendcast: models, forecasts and track records</title>
<style>${CSS}${INDEX_CSS}</style>
</head>
<body>
<main>
<section id="overview"><h1>trendcast</h1>
<p>Every symbol’s current model, its latest forecast, and how its forecasts have done since.</p>
${nav}
</section>
${input.entries.map(entrySection).join('\n')}
${refused}
</main>
<footer>trendcast index · ${when(input.updatedAt)}</footer>
</body>
</html>
`;
}
