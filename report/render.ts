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
import { CSS, esc, facts, fixed, pct, pValue, table, when } from './html.ts';
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
  // The current model the trials had to beat, on the same windows: its own row, never ranked.
  const champion = run.champion;
  if (champion) {
    const m = champion.metrics;
    rows.push([
      '–',
      `current model v${esc(champion.version)} <span class="note">(${esc(champion.config)})</span>`,
      'champion',
      pct(m?.accuracy),
      pct(m?.baselineAccuracy),
      fixed(m?.auc),
      fixed(m?.f1),
      fixed(m?.mcc),
      pct(m?.balancedAccuracy),
      ...(withP ? [pValue(m?.pValue)] : []),
      ...(withInterval ? [m ? `${pct(m.accuracyInterval.low)}–${pct(m.accuracyInterval.high)}` : '–'] : []),
      '–',
      esc(
        m
          ? 'the model to beat: a trial is promoted only with a higher F1 on these windows'
          : `could not be evaluated: ${champion.error}`,
      ),
    ]);
  }
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
