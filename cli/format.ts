import { fileURLToPath } from 'node:url';
import { budgetLine, jobSeconds } from '../shared/budget.ts';
import type { Champion, Forecast, RunDoc, TrackRecord, TrialDoc } from '../shared/documents.ts';
import { formatDuration } from '../shared/estimate.ts';

/** A plain-text table with left-aligned text and right-aligned numbers. */
export function table(header: string[], rows: Array<Array<string | number | null>>): string {
  const cells = rows.map((r) => r.map((c) => (c === null ? '-' : String(c))));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const numeric = header.map((_, i) => cells.every((r) => /^-?[\d.]+%?$|^-$/.test(r[i] ?? '-')));
  const line = (r: string[]) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

const fixed = (x: number | null | undefined, digits = 4) =>
  x === null || x === undefined ? null : x.toFixed(digits);

const percent = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The end-of-run summary: one line per trial, the winner marked, then the decision in words. */
export function runSummary(run: RunDoc, trials: TrialDoc[]): string {
  // The time left is a column only while some trial trains with a known pace (`trendcast status` mid-run).
  const training = trials.some((t) => t.status === 'training' && t.progress);
  const rows = trials.map((t) => {
    const m = t.metrics;
    const mark = run.promotion?.config === t.config ? '*' : '';
    return [
      `${mark}${t.config}`,
      t.status,
      m?.epochsRun ?? null,
      fixed(m?.valLoss),
      fixed(m?.accuracy),
      fixed(m?.auc),
      fixed(m?.f1),
      fixed(m?.mcc),
      fixed(m?.baselineAccuracy),
      fixed(m?.pValue, 3),
      m ? (m.degenerate ? 'yes' : 'no') : null,
      m ? percent(m.backtest.totalReturn) : null,
      m ? percent(m.backtest.buyHoldReturn) : null,
      m ? `${m.seconds.toFixed(0)}s` : null,
      fixed(m?.secondsPerEpoch ?? t.progress?.secondsPerEpoch, 2),
      ...(training ? [t.status === 'training' && t.progress ? left(t.progress.remainingSeconds) : null] : []),
    ];
  });
  const head = [
    'trial',
    'status',
    'epochs',
    'val_loss',
    'acc',
    'auc',
    'f1',
    'mcc',
    'baseline',
    'p_value',
    'degenerate',
    'return',
    'hold',
    'time',
    's/epoch',
    ...(training ? ['left'] : []),
  ];
  const counts = run.dataset?.counts;
  const lines = [
    `run ${run.runId}: ${run.symbol ?? '?'} ${run.timeframe ?? ''} from ${run.source.object}`,
    counts
      ? `dataset: ${counts.days} bars, ${counts.rows} rows, ${counts.windows} windows (${counts.train} train, ${counts.validation} validation), ${counts.up} up / ${counts.down} down`
      : '',
    ...planLines(run, trials),
    trials.length ? table(head, rows) : '',
    run.champion ? championLine(run.champion) : '',
    run.status === 'promoted' && run.promotion
      ? `PROMOTED ${run.promotion.config} as ${run.symbol} ${run.timeframe} v${run.promotion.version}: ${run.reason}\n  model: ${run.promotion.uri}`
      : run.status === 'rejected'
        ? `REJECTED: ${run.reason} (the current model, if any, stays)`
        : run.status === 'failed'
          ? `FAILED: ${run.error}`
          : `status: ${run.status}`,
    run.reportUri ? `report: ${reportLocation(run.reportUri)}` : '',
  ];
  return lines.filter(Boolean).join('\n');
}

/** The current model the run's trials had to beat, as evaluated on the run's windows. */
export function championLine(c: Champion): string {
  const m = c.metrics;
  return m
    ? `champion: current model v${c.version} (${c.config}) on the same ${m.windows} windows: f1 ${fixed(m.f1)}, acc ${fixed(m.accuracy)}, auc ${fixed(m.auc)}, p_value ${fixed(m.pValue, 3)}, return ${percent(m.backtest.totalReturn)}`
    : `champion: current model v${c.version} (${c.config}) could not be evaluated (${c.error}): the gate alone judged`;
}

/** One line for a symbol's track record: how its scored forecasts did, against the commoner outcome. */
export function trackRecordLine(r: TrackRecord): string {
  if (r.scored === 0) return `TRACK RECORD ${r.symbol} ${r.timeframe}: nothing scored yet`;
  return `TRACK RECORD ${r.symbol} ${r.timeframe}: ${r.correct} of ${r.scored} forecasts right (${percent(r.hitRate!)}, 95% ${percent(r.interval.low)}-${percent(r.interval.high)}), baseline ${percent(r.baselineRate!)}, p_value ${fixed(r.pValue, 3)}`;
}

/** Ingest's estimate of the grid's time, the run's budget, the gate if off, and the warnings, one line each. */
export function planLines(run: RunDoc, trials: readonly TrialDoc[] = []): string[] {
  const e = run.estimate;
  return [
    ...(e
      ? [
          `estimate: up to ${formatDuration(e.seconds)} on ${e.basis}, ${e.trialsAtOnce} trial(s) at a time, every config to its epoch limit`,
        ]
      : []),
    ...(run.budget
      ? [`budget: ${budgetLine(run.budget, jobSeconds(trials, new Date().toISOString()))}`]
      : []),
    ...(run.gateOff ? [`promotion gate off: ${run.gateOff}`] : []),
    ...(run.warnings ?? []).map((w) => `warning: ${w}`),
  ];
}

/** The time left at the current pace, an upper bound (early stopping may end sooner). */
export const left = (seconds: number) => `<= ${formatDuration(seconds)}`;

/** Where to open a report: a path for the local bucket, the gs:// URI otherwise. */
export function reportLocation(uri: string): string {
  return uri.startsWith('file://') ? fileURLToPath(uri) : uri;
}

/** One line for a forecast document: the next bar's direction, its probability and the model that said so. */
export function forecastLine(f: Forecast & { symbol: string; timeframe: string }): string {
  return `FORECAST ${f.symbol} ${f.timeframe}, the bar after ${f.asOf}: ${f.signal.toUpperCase()} (P(up) ${f.probabilityUp.toFixed(4)}, threshold ${f.threshold}) by model v${f.modelVersion}`;
}
