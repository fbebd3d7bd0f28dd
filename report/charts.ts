import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

// Vega-Lite specs for the report's charts, rendered to SVG on the server by Vega's headless view: the report needs
// no script in the browser, and Vega-Lite is a maintained grammar whose specs stay short (no drawing code here).

const WIDTH = 440;
const HEIGHT = 200;
const PALETTE = { train: '#1f77b4', validation: '#ff7f0e', best: '#2ca02c', neutral: '#888888' };

/** Shared look: system sans-serif (nothing to download), no chart border. */
const CONFIG = {
  font: 'sans-serif',
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridColor: '#eeeeee' },
  legend: { orient: 'top', labelFontSize: 11, title: null },
  title: { fontSize: 13, anchor: 'start' },
} as const;

function spec(body: Record<string, unknown>): TopLevelSpec {
  return { config: CONFIG, background: 'white', padding: 8, ...body } as TopLevelSpec;
}

export type PricePoint = { timestamp: string; close: number };

/** The close of every row, the validation period (the target rows of the validation windows) shaded. */
export function priceSpec(points: PricePoint[], validationFrom: string | undefined): TopLevelSpec {
  const last = points[points.length - 1]?.timestamp;
  const layers: Record<string, unknown>[] = [];
  if (validationFrom && last) {
    layers.push({
      data: { values: [{ from: validationFrom, to: last, label: 'validation' }] },
      layer: [
        {
          mark: { type: 'rect', color: PALETTE.validation, opacity: 0.12 },
          encoding: {
            x: { field: 'from', type: 'temporal', scale: { type: 'utc' } },
            x2: { field: 'to' },
          },
        },
        {
          mark: { type: 'text', align: 'left', baseline: 'top', dx: 4, dy: 4, color: '#b35900' },
          encoding: {
            x: { field: 'from', type: 'temporal', scale: { type: 'utc' } },
            y: { value: 0 },
            text: { field: 'label' },
          },
        },
      ],
    });
  }
  layers.push({
    data: { values: points },
    mark: { type: 'line', color: PALETTE.train, strokeWidth: 1.5 },
    encoding: {
      x: { field: 'timestamp', type: 'temporal', scale: { type: 'utc' }, title: null },
      y: { field: 'close', type: 'quantitative', scale: { zero: false }, title: 'close' },
    },
  });
  return spec({ width: 2 * WIDTH - 120, height: HEIGHT, layer: layers });
}

export type EpochPoint = { epoch: number; loss: number; val_loss: number; lr: number };

/** Loss and validation loss per epoch with the best epoch marked; the learning rate beneath, on a log scale. */
export function learningCurvesSpec(history: EpochPoint[], bestEpoch: number): TopLevelSpec {
  const losses = history.flatMap((h) => [
    { epoch: h.epoch, series: 'loss', value: h.loss },
    { epoch: h.epoch, series: 'validation loss', value: h.val_loss },
  ]);
  const lastEpoch = history[history.length - 1]?.epoch ?? bestEpoch;
  const labelSide = bestEpoch > (1 + lastEpoch) / 2 ? { align: 'right', dx: -4 } : { align: 'left', dx: 4 };
  const epochAxis = {
    field: 'epoch',
    type: 'quantitative',
    scale: { domainMin: 1, nice: false },
    axis: { tickMinStep: 1, format: 'd' },
  };
  return spec({
    vconcat: [
      {
        width: WIDTH,
        height: HEIGHT,
        layer: [
          {
            data: { values: losses },
            mark: { type: 'line', point: history.length <= 30 },
            encoding: {
              x: { ...epochAxis, title: null },
              y: { field: 'value', type: 'quantitative', scale: { zero: false }, title: 'loss' },
              color: {
                field: 'series',
                type: 'nominal',
                scale: { range: [PALETTE.train, PALETTE.validation] },
              },
            },
          },
          {
            data: { values: [{ epoch: bestEpoch, label: `best epoch ${bestEpoch}` }] },
            layer: [
              { mark: { type: 'rule', color: PALETTE.best, strokeDash: [4, 3] }, encoding: { x: epochAxis } },
              {
                // The label sits on the side of the rule that has room.
                mark: { type: 'text', color: PALETTE.best, baseline: 'top', ...labelSide },
                encoding: { x: epochAxis, y: { value: 2 }, text: { field: 'label' } },
              },
            ],
          },
        ],
      },
      {
        width: WIDTH,
        height: 70,
        data: { values: history.map((h) => ({ epoch: h.epoch, lr: h.lr })) },
        mark: { type: 'line', interpolate: 'step-after', color: PALETTE.neutral },
        encoding: {
          x: { ...epochAxis, title: 'epoch' },
          y: {
            field: 'lr',
            type: 'quantitative',
            scale: { type: 'log' },
            axis: { format: '.0e', tickCount: 3 },
            title: 'learning rate',
          },
        },
      },
    ],
  });
}

export type ConfusionCounts = { tp: number; fp: number; tn: number; fn: number };

/** The confusion matrix at the trial's threshold: actual class down the side, predicted class across. */
export function confusionSpec(c: ConfusionCounts): TopLevelSpec {
  const cells = [
    { actual: 'up', predicted: 'up', count: c.tp },
    { actual: 'up', predicted: 'down', count: c.fn },
    { actual: 'down', predicted: 'up', count: c.fp },
    { actual: 'down', predicted: 'down', count: c.tn },
  ];
  const axes = {
    x: { field: 'predicted', type: 'nominal', sort: ['down', 'up'], axis: { labelAngle: 0, grid: false } },
    y: { field: 'actual', type: 'nominal', sort: ['down', 'up'], axis: { grid: false } },
  };
  return spec({
    width: 160,
    height: 160,
    data: { values: cells },
    layer: [
      {
        mark: 'rect',
        encoding: {
          ...axes,
          color: { field: 'count', type: 'quantitative', scale: { scheme: 'blues' }, legend: null },
        },
      },
      {
        mark: { type: 'text', fontSize: 16, fontWeight: 'bold' },
        encoding: {
          ...axes,
          text: { field: 'count', type: 'quantitative' },
          color: {
            condition: { test: `datum.count > ${Math.max(c.tp, c.fp, c.tn, c.fn) / 2}`, value: 'white' },
            value: 'black',
          },
        },
      },
    ],
  });
}

export type RocPoint = { fpr: number; tpr: number };

/** The ROC curve against the diagonal of a coin toss. */
export function rocSpec(points: RocPoint[], auc: number | null): TopLevelSpec {
  const rate = (field: string, title: string) => ({
    field,
    type: 'quantitative',
    scale: { domain: [0, 1] },
    title,
  });
  return spec({
    width: 180,
    height: 180,
    title: auc === null ? undefined : `AUC ${auc.toFixed(3)}`,
    layer: [
      {
        data: {
          values: [
            { fpr: 0, tpr: 0 },
            { fpr: 1, tpr: 1 },
          ],
        },
        mark: { type: 'line', color: PALETTE.neutral, strokeDash: [4, 3] },
        encoding: { x: rate('fpr', 'false positive rate'), y: rate('tpr', 'true positive rate') },
      },
      {
        data: { values: points.map((p, order) => ({ ...p, order })) },
        mark: { type: 'line', color: PALETTE.train, strokeWidth: 2 },
        encoding: {
          x: rate('fpr', 'false positive rate'),
          y: rate('tpr', 'true positive rate'),
          order: { field: 'order', type: 'quantitative' },
        },
      },
    ],
  });
}

export type EquityPoint = { timestamp: string; strategy: number; buyHold: number };

/** Growth of 1 invested: the model's positions against holding the stock, over the validation windows. */
export function equitySpec(points: EquityPoint[]): TopLevelSpec {
  const values = points.flatMap((p) => [
    { timestamp: p.timestamp, series: 'model', value: p.strategy },
    { timestamp: p.timestamp, series: 'buy and hold', value: p.buyHold },
  ]);
  return spec({
    width: WIDTH,
    height: 180,
    data: { values },
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: {
      x: { field: 'timestamp', type: 'temporal', scale: { type: 'utc' }, title: null },
      y: { field: 'value', type: 'quantitative', scale: { zero: false }, title: 'growth of 1' },
      color: {
        field: 'series',
        type: 'nominal',
        scale: { domain: ['model', 'buy and hold'], range: [PALETTE.train, PALETTE.neutral] },
      },
    },
  });
}

/**
 * Renders a spec to an SVG string. Vega numbers its clip paths per view, so ids get `idPrefix` to stay unique when
 * several SVGs sit in one page (a prefix from the caller, not a counter, keeps a report's bytes repeatable).
 */
export async function toSvg(chart: TopLevelSpec, idPrefix: string): Promise<string> {
  const view = new vega.View(vega.parse(compile(chart).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return svg
      .replace(/\bid="([^"]+)"/g, `id="${idPrefix}-$1"`)
      .replace(/url\(#([^)]+)\)/g, `url(#${idPrefix}-$1)`);
  } finally {
    view.finalize();
  }
}
