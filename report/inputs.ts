import { z } from 'zod';
import { InputError } from '../shared/errors.ts';
import { TrialMetrics } from '../shared/messages.ts';
import { Predictions, PredictionWindow } from '../shared/predictions.ts';
import { parseWith } from '../shared/validate.ts';
import type { EpochPoint, EquityPoint, PricePoint, RocPoint } from './charts.ts';

// What the report reads beside the run and trial documents, as it reads it: every field the trainer or the forecaster
// may not (yet) write is optional, so a report renders for runs made before and after those fields existed.

/**
 * The parts of metrics.json the report shows when they are there: the schemas of shared/messages.ts, each optional
 * (and dropped when it does not parse), so a report renders for runs made before these fields existed.
 */
export const TrialExtras = z.object({
  pValue: TrialMetrics.shape.pValue.optional().catch(undefined),
  accuracyInterval: TrialMetrics.shape.accuracyInterval.optional().catch(undefined),
  backtest: TrialMetrics.shape.backtest.optional().catch(undefined),
});
export type TrialExtras = z.infer<typeof TrialExtras>;

/**
 * predictions.json (shared/predictions.ts) as the report reads it: the probabilities and labels, and the windows'
 * prices, which runs made before they were written do not have.
 */
export const ReportPredictions = Predictions.pick({ probabilities: true, labels: true }).extend({
  windows: z
    .array(
      PredictionWindow.pick({
        timestamp: true,
        close: true,
        nextClose: true,
        probability: true,
        position: true,
      }),
    )
    .optional()
    .catch(undefined),
});
export type ReportPredictions = z.infer<typeof ReportPredictions>;
type ReportWindow = NonNullable<ReportPredictions['windows']>[number];

export const History = z.array(
  z.object({ epoch: z.number(), loss: z.number(), val_loss: z.number(), lr: z.number() }),
);

/** `forecasts/{symbol}_{timeframe}`: the latest forecast of the current model (shared/documents.ts). */
export { Forecast } from '../shared/documents.ts';

/** model.json in the tfjs layers format: only what the architecture table needs. */
const ModelJson = z.object({
  modelTopology: z.object({
    config: z.object({
      layers: z.array(
        z.object({
          class_name: z.string(),
          name: z.string().optional(),
          config: z.record(z.string(), z.unknown()),
        }),
      ),
    }),
  }),
  weightsManifest: z.array(
    z.object({ weights: z.array(z.object({ name: z.string(), shape: z.array(z.number()) })) }),
  ),
});

export type LayerSummary = { name: string; type: string; size: string; parameters: number };

/** One line per layer: its type, its size (units, rate, ...) and its weights counted from the manifest. */
export function architectureOf(modelJson: unknown, where: string): LayerSummary[] {
  const model = parseWith(ModelJson, modelJson, where);
  const parameters = new Map<string, number>();
  for (const w of model.weightsManifest.flatMap((g) => g.weights)) {
    const layer = w.name.split('/')[0]!;
    parameters.set(layer, (parameters.get(layer) ?? 0) + w.shape.reduce((a, b) => a * b, 1));
  }
  return model.modelTopology.config.layers.map((l) => {
    const name = l.name ?? String(l.config.name ?? l.class_name);
    const c = l.config;
    const size =
      c.units !== undefined
        ? `${c.units} units${c.activation && c.activation !== 'linear' ? `, ${c.activation}` : ''}`
        : c.rate !== undefined
          ? `rate ${c.rate}`
          : c.activation !== undefined
            ? String(c.activation)
            : c.batch_input_shape !== undefined
              ? `shape ${JSON.stringify(c.batch_input_shape)}`
              : c.n !== undefined
                ? `× ${c.n}`
                : '';
    return { name, type: l.class_name, size, parameters: parameters.get(name) ?? 0 };
  });
}

/** The close of every row of a dataset's features.csv (the rows windows are cut from). */
export function closesOf(featuresCsv: string, where: string): PricePoint[] {
  const [header, ...lines] = featuresCsv.trim().split('\n');
  const columns = (header ?? '').split(',');
  const t = columns.indexOf('timestamp');
  const c = columns.indexOf('Close');
  if (t < 0 || c < 0) throw new InputError(`${where}: no timestamp or Close column`);
  return lines.map((line) => {
    const cells = line.split(',');
    return { timestamp: cells[t]!, close: Number(cells[c]) };
  });
}

export function historyPoints(history: z.infer<typeof History>): EpochPoint[] {
  return history.map(({ epoch, loss, val_loss, lr }) => ({ epoch, loss, val_loss, lr }));
}

/** ROC points, one per distinct score from the highest down (scikit-learn's roc_curve without dropping any). */
export function rocPoints(labels: number[], scores: number[]): RocPoint[] | null {
  const positives = labels.filter((l) => l === 1).length;
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) return null;
  const order = scores.map((s, i) => [s, labels[i]!] as const).sort((a, b) => b[0] - a[0]);
  const points: RocPoint[] = [{ fpr: 0, tpr: 0 }];
  let tp = 0;
  let fp = 0;
  order.forEach(([score, label], i) => {
    if (label === 1) tp++;
    else fp++;
    if (i === order.length - 1 || order[i + 1]![0] !== score)
      points.push({ fpr: fp / negatives, tpr: tp / positives });
  });
  return points;
}

/**
 * Growth of 1 over the validation windows: the model holds `position` of the stock from each window's close to the
 * next, paying costBps on every change of position; buy and hold keeps 1 throughout.
 */
export function equityCurve(windows: ReportWindow[], costBps: number): EquityPoint[] {
  let strategy = 1;
  let buyHold = 1;
  let held = 0;
  return windows.map((w) => {
    const change = w.nextClose / w.close - 1;
    strategy *= 1 + w.position * change - (Math.abs(w.position - held) * costBps) / 10_000;
    buyHold *= 1 + change;
    held = w.position;
    return { timestamp: w.timestamp, strategy, buyHold };
  });
}

export type RefusedAt = { file: string | null; row: string | null; column: string | null; problem: string };

/**
 * Where a refused upload went wrong, read from the error's own wording: `<file>, row <n>, column "<name>": <problem>`
 * (row and column each optional; `rows 3 and 9` for conflicting rows). Other errors keep their whole text.
 */
export function refusedAt(error: string): RefusedAt {
  const match = /^(.+?\.[A-Za-z0-9]{1,8})(?:, rows? (\d+(?: and \d+)?))?(?:, column "([^"]*)")?: (.+)$/s.exec(
    error,
  );
  if (!match) return { file: null, row: null, column: null, problem: error };
  return { file: match[1]!, row: match[2] ?? null, column: match[3] ?? null, problem: match[4]! };
}
