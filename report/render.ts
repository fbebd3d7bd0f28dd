import { budgetLine, jobSeconds } from '../shared/budget.ts';
import { DEFAULT_PATIENCE } from '../shared/config.ts';
import type { RunDoc, TrialDoc } from '../shared/documents.ts';
import {
  confusionSpec,
  type EpochPoint,
  equitySpec,
  learningCurvesSpec,
  type PricePoint,
  priceSpec,
  rocSpec,
  toSvg,
} from './charts.ts';
import {
  equityCurve,
  type Forecast,
  type LayerSummary,
  type ReportPredictions,
  refusedAt,
  rocPoints,
  type TrialExtras,
} from './inputs.ts';

/** One trial as the report shows it: its document and whatever of its artifacts could be read. */
export type TrialReport = {
  doc: TrialDoc;
  extras: TrialExtras;
  history?: EpochPoint[];
  predictions?: ReportPredictions;
  layers?: LayerSummary[];
  /** Artifacts that were missing or unreadable, in plain words. */
  problems: string[];
};

export type ReportInput = {
  run: RunDoc;
  trials: TrialReport[];
  /** The close of every dataset row, for the price chart. */
  prices?: PricePoint[];
  forecast?: Forecast;
};

/** The sections of a decided run's report, in the order a trader asks; a failed run's report has its own two. */
export const SECTIONS = ['decision', 'data', 'ranking', 'trials', 'forecast', 'configs'] as const;
export const FAILED_SECTIONS = ['decision', 'refused'] as const;

const esc = (value: unknown) =>
  String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
const fixed = (x: number | null | undefined, digits = 4) =>
  x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits);
const pct = (x: number | null | undefined, digits = 1) =>
  x === null || x === undefined || !Number.isFinite(x) ? '–' : `${(100 * x).toFixed(digits)}%`;

const pValue = (p: number | undefined) => (p === undefined ? '–' : p < 0.001 ? '&lt; 0.001' : p.toFixed(3));

function table(head: string[], rows: string[][], className = ''): string {
  const th = head.map((h) => `<th>${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return `<div class="scroll"><table class="${className}"><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

/** Labelled values in a grid; a `wide` one (a long path) takes two columns. */
function facts(entries: Array<[string, string] | [string, string, 'wide']>): string {
  const items = entries.map(
    ([k, v, wide]) => `<div${wide ? ' class="wide"' : ''}><dt>${esc(k)}</dt><dd>${v}</dd></div>`,
  );
  return `<dl class="facts">${items.join('')}</dl>`;
}

/** `2025-11-12T10:05:00.000Z` as `2025-11-12 10:05:00 UTC`: shorter, and it wraps at the space. */
const when = (iso: string | null) => (iso ? esc(iso.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC')) : '–');

/** Time-axis charts stay legible on a phone: below this width they scroll inside their own box instead of shrinking. */
const WIDE_CHARTS: ReadonlySet<string> = new Set(['price', 'learning-curves', 'equity']);

async function figure(kind: string, caption: string, chart: Promise<string>) {
  const wide = WIDE_CHARTS.has(kind) ? ' wide' : '';
  return `<figure class="chart${wide}" data-chart="${esc(kind)}">${await chart}<figcaption>${esc(caption)}</figcaption></figure>`;
}

function decisionSentence(run: RunDoc): string {
  switch (run.status) {
    case 'promoted':
      return `Promoted <b>${esc(run.promotion?.config)}</b> as ${esc(run.symbol)} ${esc(run.timeframe)} model v${esc(run.promotion?.version)}: ${esc(run.reason)}.`;
    case 'rejected':
      return `Nothing was promoted: ${esc(run.reason)}. The current model, if any, stays.`;
    case 'failed':
      return `The upload was refused: ${esc(run.error)}`;
    default:
      return `The run is still ${esc(run.status)}.`;
  }
}

function decisionSection(run: RunDoc, trials: readonly TrialDoc[]): string {
  const { source } = run;
  // A refused upload has no symbol yet: its file names it.
  const title = run.symbol ? `${run.symbol} ${run.timeframe ?? ''}` : source.object.replace(/^.*\//, '');
  return `<section id="decision" class="decision ${esc(run.status)}">
<p class="status">${esc(run.status.toUpperCase())}</p>
<h1>${esc(title)}</h1>
<p class="sentence">${decisionSentence(run)}</p>
${facts([
  ['source', `<code>gs://${esc(source.bucket)}/${esc(source.object)}</code>`, 'wide'],
  ['generation', `<code>${esc(source.generation)}</code>`],
  ['run', `<code>${esc(run.runId)}</code>`],
  ['started', when(run.createdAt)],
  ['finished', when(run.finishedAt)],
  ...(run.status === 'failed'
    ? []
    : [['promotion gate', run.gate ? 'on' : `off: ${esc(run.gateOff ?? '')}`] as [string, string]]),
  ...(run.budget
    ? [
        [
          'training budget',
          esc(budgetLine(run.budget, jobSeconds(trials, run.finishedAt ?? run.updatedAt))),
        ] as [string, string],
      ]
    : []),
])}
</section>`;
}

async function dataSection(input: ReportInput): Promise<string> {
  const { run, prices } = input;
  const d = run.dataset;
  if (!d) return `<section id="data"><h2>Data</h2><p>No dataset was built.</p></section>`;
  const c = d.counts;
  // Validation windows take the targets of the last `validation` rows: their period starts at that row.
  const validationFrom = prices?.[prices.length - c.validation]?.timestamp;
  const balance = `${c.up} up (${pct(c.up / Math.max(1, c.windows))}) / ${c.down} down (${pct(c.down / Math.max(1, c.windows))})`;
  const chart = prices?.length
    ? await figure(
        'price',
        `Close of every row${validationFrom ? `; shaded: the validation period from ${validationFrom}` : ''}`,
        toSvg(priceSpec(prices, validationFrom), 'price'),
      )
    : '<p class="note">The dataset’s features.csv could not be read: no price chart.</p>';
  return `<section id="data"><h2>Data</h2>
${facts([
  ['bars', String(c.days)],
  ['rows (every feature defined)', String(c.rows)],
  ['windows', String(c.windows)],
  ['split', `${c.train} train / ${c.validation} validation (last 20%, in time order)`],
  ['class balance', esc(balance)],
  ['first and last date', `${esc(d.firstTimestamp)} → ${esc(d.lastTimestamp)}`],
])}
${chart}
</section>`;
}

function rankingSection(input: ReportInput): string {
  const { run, trials } = input;
  const byConfig = new Map(trials.map((t) => [t.doc.config, t]));
  const withP = trials.some((t) => t.extras.pValue !== undefined);
  const withInterval = trials.some((t) => t.extras.accuracyInterval !== undefined);
  const ranked = run.ranking.length
    ? run.ranking
    : trials.map((t) => ({ config: t.doc.config, eligible: false, note: t.doc.status }));
  const rows = ranked.map((r, i) => {
    const t = byConfig.get(r.config);
    const m = t?.doc.metrics;
    const winner = run.promotion?.config === r.config;
    return [
      String(i + 1),
      `${esc(r.config)}${winner ? ' <span class="badge">promoted</span>' : ''}`,
      esc(t?.doc.status ?? '–'),
      pct(m?.accuracy),
      pct(m?.baselineAccuracy),
      fixed(m?.auc),
      fixed(m?.f1),
      fixed(m?.mcc),
      pct(m?.balancedAccuracy),
      ...(withP ? [pValue(t?.extras.pValue)] : []),
      ...(withInterval
        ? [
            t?.extras.accuracyInterval
              ? `${pct(t.extras.accuracyInterval.low)}–${pct(t.extras.accuracyInterval.high)}`
              : '–',
          ]
        : []),
      r.eligible ? '<span class="yes">yes</span>' : '<span class="no">no</span>',
      esc(r.note),
    ];
  });
  const head = [
    '#',
    'trial',
    'status',
    'accuracy',
    'baseline',
    'AUC',
    'F1',
    'MCC',
    'balanced acc.',
    ...(withP ? ['p-value'] : []),
    ...(withInterval ? ['accuracy interval'] : []),
    'eligible',
    'why',
  ];
  return `<section id="ranking"><h2>Ranking</h2>
<p>Every trial beside the majority-class baseline (always answering the validation slice’s commoner class). The winner is the highest F1 among eligible trials${run.gate ? ': succeeded, not degenerate, accuracy above the baseline' : ' (gate off: any succeeded trial)'}.</p>
${table(head, rows, 'numbers')}
</section>`;
}

function backtestTable(extras: TrialExtras): string {
  const b = extras.backtest;
  if (!b) return '';
  return facts([
    ['total return', pct(b.totalReturn)],
    ['buy and hold', pct(b.buyHoldReturn)],
    ['Sharpe', fixed(b.sharpe, 2)],
    ['max drawdown', pct(b.maxDrawdown)],
    ['trades', String(b.trades)],
    ['exposure', pct(b.exposure)],
    ['cost', `${b.costBps} bps per change of position`],
    ['threshold', fixed(b.threshold, 2)],
  ]);
}

async function trialSection(trial: TrialReport, run: RunDoc, index: number): Promise<string> {
  const { doc } = trial;
  const m = doc.metrics;
  const id = `t${index}`;
  const winner = run.promotion?.config === doc.config;
  const head = `<h3>${esc(doc.config)}${winner ? ' <span class="badge">promoted</span>' : ''}</h3>`;
  if (doc.status !== 'succeeded' || !m) {
    return `<section class="trial" id="trial-${esc(doc.config)}">${head}<p class="note">${esc(doc.status)}${doc.error ? `: ${esc(doc.error)}` : ''}</p></section>`;
  }
  const figures: Array<Promise<string>> = [];
  if (trial.history?.length)
    figures.push(
      figure(
        'learning-curves',
        `Loss and validation loss per epoch, best epoch ${m.bestEpoch} marked; learning rate beneath`,
        toSvg(learningCurvesSpec(trial.history, m.bestEpoch), `${id}-lc`),
      ),
    );
  figures.push(
    figure(
      'confusion',
      `Confusion matrix of the ${m.confusion.tp + m.confusion.fp + m.confusion.tn + m.confusion.fn} validation windows`,
      toSvg(confusionSpec(m.confusion), `${id}-cm`),
    ),
  );
  const roc = trial.predictions ? rocPoints(trial.predictions.labels, trial.predictions.probabilities) : null;
  if (roc)
    figures.push(
      figure('roc', 'ROC curve on the validation windows', toSvg(rocSpec(roc, m.auc), `${id}-roc`)),
    );
  const windows = trial.predictions?.windows;
  if (windows?.length)
    figures.push(
      figure(
        'equity',
        'Backtest on the validation windows: the model’s positions against buy and hold',
        toSvg(equitySpec(equityCurve(windows, trial.extras.backtest?.costBps ?? 0)), `${id}-eq`),
      ),
    );
  const problems = trial.problems.length ? `<p class="note">${trial.problems.map(esc).join('; ')}</p>` : '';
  return `<section class="trial" id="trial-${esc(doc.config)}">${head}
<p>${m.epochsRun} epochs (best ${m.bestEpoch}), validation loss ${fixed(m.valLoss)}, F1 ${fixed(m.f1)}, precision ${fixed(m.precision)}, recall ${fixed(m.recall)}${m.degenerate ? ', <b>degenerate</b>' : ''}.</p>
<div class="charts">${(await Promise.all(figures)).join('\n')}</div>
${backtestTable(trial.extras)}${problems}
</section>`;
}

function forecastSection(input: ReportInput): string {
  const f = input.forecast;
  if (!f) return '';
  const other =
    f.runId === input.run.runId
      ? ''
      : `<p class="note">Made by the current model (model version ${esc(f.modelVersion)}) from ${esc(f.source)}.</p>`;
  return `<section id="forecast"><h2>Forecast</h2>
<p class="sentence">As of ${esc(f.asOf)}: <b>${esc(f.signal)}</b>, probability of an up close ${pct(f.probabilityUp)} (threshold ${fixed(f.threshold, 2)}).</p>
${facts([
  ['model version', esc(f.modelVersion)],
  ['made at', when(f.createdAt)],
])}${other}
</section>`;
}

function configsSection(input: ReportInput): string {
  const trials = input.trials;
  const configRows = trials.map(({ doc }) => {
    const h = doc.hyperparameters;
    const m = doc.metrics;
    return [
      esc(doc.config),
      esc(h.lstmUnits.join(' / ')),
      String(h.dropout),
      String(h.learningRate),
      String(h.batchSize),
      String(h.epochs),
      String(h.patience ?? DEFAULT_PATIENCE),
      m ? String(m.epochsRun) : '–',
      m ? m.parameterCount.toLocaleString('en-US') : '–',
      esc(m?.backend ?? '–'),
      m ? `${m.seconds.toFixed(0)} s` : '–',
    ];
  });
  const configs = table(
    [
      'trial',
      'LSTM units',
      'dropout',
      'learning rate',
      'batch',
      'max epochs',
      'patience',
      'epochs run',
      'parameters',
      'backend',
      'time',
    ],
    configRows,
    'numbers',
  );
  const described = trials.filter((t) => t.layers?.length);
  let architecture = '<p class="note">No model.json could be read: no architecture.</p>';
  if (described.length) {
    const names = described[0]!.layers!.map((l) => l.name);
    const rows = names.map((name) => {
      const first = described[0]!.layers!.find((l) => l.name === name)!;
      return [
        esc(name),
        esc(first.type),
        ...described.flatMap((t) => {
          const l = t.layers!.find((x) => x.name === name);
          return [esc(l?.size ?? '–'), l ? l.parameters.toLocaleString('en-US') : '–'];
        }),
      ];
    });
    rows.push([
      '<b>total</b>',
      '',
      ...described.flatMap((t) => [
        '',
        `<b>${t.layers!.reduce((a, l) => a + l.parameters, 0).toLocaleString('en-US')}</b>`,
      ]),
    ]);
    architecture = table(
      ['layer', 'type', ...described.flatMap((t) => [`${t.doc.config}`, 'parameters'])],
      rows,
      'numbers',
    );
  }
  return `<section id="configs"><h2>Configs and architecture</h2>
${configs}
<h3>Model architecture</h3>
<p>LSTM with attention, from each trial’s saved <code>model.json</code>; parameters counted from its weights.</p>
${architecture}
</section>`;
}

function failedSection(run: RunDoc): string {
  const where = refusedAt(run.error ?? 'no error recorded');
  return `<section id="refused"><h2>What was refused, and where</h2>
${facts([
  ['file', where.file ? `<code>${esc(where.file)}</code>` : `<code>${esc(run.source.object)}</code>`],
  ['row', esc(where.row ?? '–')],
  ['column', esc(where.column ?? '–')],
  ['problem', esc(where.problem)],
])}
<p>Nothing was trained. Fix the file and upload it again (a new upload is a new run).</p>
</section>`;
}

const CSS = `
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;background:#f5f6f8}
main{max-width:1180px;margin:0 auto;padding:16px}
section{background:#fff;border-radius:8px;padding:16px;margin:0 0 16px;box-shadow:0 1px 2px rgba(0,0,0,.08);min-width:0}
section.trial{box-shadow:none;border:1px solid #e3e5e8;margin:12px 0 0}
h1{font-size:1.6em;margin:.1em 0 .3em}
h2{font-size:1.25em;margin:0 0 .6em}
h3{font-size:1.05em;margin:.2em 0 .5em}
p,dd,td{overflow-wrap:anywhere}
code{font:.9em ui-monospace,Menlo,Consolas,monospace}
.status{display:inline-block;margin:0;padding:2px 10px;border-radius:12px;font-weight:700;font-size:.85em;letter-spacing:.05em}
.promoted .status{background:#dff3e4;color:#176f2c}
.rejected .status{background:#fff1d6;color:#8a5a00}
.failed .status{background:#fde2e1;color:#a4161a}
.sentence{font-size:1.1em}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:8px 16px;margin:12px 0}
.facts div{min-width:0}
.facts .wide{grid-column:span 2}
.facts dt{font-size:.8em;color:#5f6368;text-transform:uppercase;letter-spacing:.04em}
.facts dd{margin:0}
.scroll{overflow-x:auto;max-width:100%;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;font-size:.9em;min-width:100%}
th,td{padding:5px 8px;border-bottom:1px solid #e3e5e8;text-align:left;vertical-align:top}
th{white-space:nowrap;background:#fafbfc}
table.numbers td{white-space:nowrap}
table.numbers td:last-child{white-space:normal;min-width:16em}
.charts{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
figure.chart{margin:0;min-width:0;max-width:100%;overflow-x:auto}
figure.chart svg{display:block;max-width:100%;height:auto}
figure.wide svg{min-width:480px}
figcaption{font-size:.8em;color:#5f6368;margin-top:2px}
.badge{background:#176f2c;color:#fff;border-radius:10px;padding:1px 8px;font-size:.75em;font-weight:600;vertical-align:middle}
.yes{color:#176f2c;font-weight:600}
.no{color:#a4161a;font-weight:600}
.note{color:#5f6368}
footer{color:#5f6368;font-size:.8em;text-align:center;padding:8px}
`;

/**
 * The run report: one self-contained HTML page (inline CSS and SVG, no script, font or image from anywhere) from the
 * run, its trials and their artifacts. Pure and repeatable: the same input gives the same bytes.
 */
export async function renderReport(input: ReportInput): Promise<string> {
  const { run } = input;
  let body: string;
  if (run.status === 'failed') {
    body = `${decisionSection(run, [])}\n${failedSection(run)}`;
  } else {
    const trials = await Promise.all(input.trials.map((t, i) => trialSection(t, run, i)));
    body = [
      decisionSection(
        run,
        input.trials.map((t) => t.doc),
      ),
      await dataSection(input),
      rankingSection(input),
      `<section id="trials"><h2>Trials</h2>${trials.join('\n')}</section>`,
      forecastSection(input),
      configsSection(input),
    ]
      .filter(Boolean)
      .join('\n');
  }
  const title = `trendcast ${run.status}: ${run.symbol ?? run.source.object} ${run.timeframe ?? ''} (${run.runId})`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${body}
</main>
<footer>trendcast run report · ${esc(run.runId)} · ${when(run.finishedAt ?? run.updatedAt)} · charts: Vega-Lite</footer>
</body>
</html>
`;
}
