import * as tf from '@tensorflow/tfjs';
import { CorruptModelError, messageOf } from '../shared/errors.ts';
import type { ObjectStore } from '../shared/ports.ts';

const WEIGHTS_FILE = 'weights.bin';

/** Saves a model in the tfjs layers format (`model.json` + `weights.bin`) through the object store. */
export async function saveModel(model: tf.LayersModel, store: ObjectStore, prefix: string): Promise<void> {
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = artifacts.weightData as ArrayBuffer;
      await store.write(`${prefix}${WEIGHTS_FILE}`, Buffer.from(weightData));
      const modelJson = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs }],
      };
      // model.json last: the file that names the weights appears after them.
      await store.write(`${prefix}model.json`, JSON.stringify(modelJson), 'application/json');
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

type WeightsGroup = { paths: string[]; weights: tf.io.WeightsManifestEntry[] };

/**
 * Loads a model saved by saveModel (or any single-shard tfjs layers model) from the object store. Stored bytes that
 * are not such a model (bad JSON, no `weightsManifest`, a topology or weights tfjs refuses) are a CorruptModelError:
 * reading them again gives the same bytes, so no redelivery can help. A failed read stays what it was.
 */
export async function loadModel(store: ObjectStore, prefix: string): Promise<tf.LayersModel> {
  const where = `${store.baseUri}${prefix}model.json`;
  const corrupt = (what: string, cause?: unknown) =>
    new CorruptModelError(`${where}: not a usable model: ${what}`, { cause });
  const text = (await store.read(`${prefix}model.json`)).toString('utf8');
  let modelJson: { modelTopology?: unknown; weightsManifest?: unknown };
  try {
    modelJson = JSON.parse(text);
  } catch (error) {
    throw corrupt(`not JSON (${messageOf(error)})`, error);
  }
  const manifest = modelJson?.weightsManifest as WeightsGroup[] | undefined;
  const wellFormed =
    Array.isArray(manifest) &&
    manifest.every(
      (g) =>
        Array.isArray(g?.paths) && g.paths.every((p) => typeof p === 'string') && Array.isArray(g.weights),
    );
  if (!wellFormed) throw corrupt('no weightsManifest of paths and weights');
  if (typeof modelJson.modelTopology !== 'object' || modelJson.modelTopology === null)
    throw corrupt('no modelTopology');
  const buffers = await Promise.all(manifest.flatMap((g) => g.paths).map((p) => store.read(`${prefix}${p}`)));
  const weightData = Buffer.concat(buffers);
  try {
    return await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology as tf.io.ModelJSON['modelTopology'],
        weightSpecs: manifest.flatMap((g) => g.weights),
        weightData: weightData.buffer.slice(
          weightData.byteOffset,
          weightData.byteOffset + weightData.byteLength,
        ),
      }),
    );
  } catch (error) {
    throw corrupt(messageOf(error), error);
  }
}

export type EpochRecord = {
  epoch: number;
  loss: number;
  val_loss: number;
  accuracy: number;
  val_accuracy: number;
  lr: number;
};

const W = 640;
const H = 360;
const PAD = { left: 56, right: 16, top: 36, bottom: 40 };
const escapeXml = (s: string) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * A self-contained line chart (opens in any browser, needs no script): the artifacts a trainer writes beside its
 * model. Hand-drawn because the trainer image carries no chart library; the run report draws its charts with Vega-Lite.
 */
function lineChartSvg(chart: {
  title: string;
  xLabel: string;
  series: Array<{ name: string; color: string; values: number[] }>;
  /** Extra marks drawn under the ticks (a reference line) and over the lines (a marker), given the scales. */
  under?: (x: (i: number) => number, y: (v: number) => number) => string;
  over?: (x: (i: number) => number, y: (v: number) => number) => string;
}): string {
  const values = chart.series.flatMap((s) => s.values).filter(Number.isFinite);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const span = hi - lo || 1;
  const n = Math.max(1, (chart.series[0]?.values.length ?? 1) - 1);
  const x = (i: number) => PAD.left + ((W - PAD.left - PAD.right) * i) / n;
  const y = (v: number) => PAD.top + (H - PAD.top - PAD.bottom) * (1 - (v - lo) / span);
  const ticks = [lo, lo + span / 2, hi]
    .map(
      (v) =>
        `<text x="${PAD.left - 6}" y="${y(v).toFixed(1)}" text-anchor="end" font-size="11">${v.toFixed(3)}</text>`,
    )
    .join('');
  const lines = chart.series
    .map(
      (s) =>
        `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>\n`,
    )
    .join('');
  const legend = chart.series
    .map(
      (s, i) =>
        `<text x="${W - PAD.right}" y="${PAD.top + 12 + 16 * i}" text-anchor="end" font-size="12" fill="${s.color}">${escapeXml(s.name)}</text>\n`,
    )
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(chart.title)}</text>
<line x1="${PAD.left}" y1="${H - PAD.bottom}" x2="${W - PAD.right}" y2="${H - PAD.bottom}" stroke="#888"/>
<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${H - PAD.bottom}" stroke="#888"/>
${chart.under ? `${chart.under(x, y)}\n` : ''}${ticks}
<text x="${W / 2}" y="${H - 8}" text-anchor="middle" font-size="12">${escapeXml(chart.xLabel)}</text>
${lines}${chart.over ? `${chart.over(x, y)}\n` : ''}${legend}</svg>
`;
}

/** Loss and val_loss per epoch, the best epoch marked. */
export function learningCurvesSvg(history: EpochRecord[], bestEpoch: number, title: string): string {
  const bestIndex = history.findIndex((h) => h.epoch === bestEpoch);
  return lineChartSvg({
    title,
    xLabel: `epoch (1-${history.length})`,
    series: [
      { name: 'loss', color: '#1f77b4', values: history.map((h) => h.loss) },
      { name: 'val_loss', color: '#ff7f0e', values: history.map((h) => h.val_loss) },
    ],
    over: (x) =>
      bestIndex >= 0
        ? `<line x1="${x(bestIndex).toFixed(1)}" y1="${PAD.top}" x2="${x(bestIndex).toFixed(1)}" y2="${H - PAD.bottom}" stroke="#2ca02c" stroke-dasharray="4 3"/><text x="${x(bestIndex).toFixed(1)}" y="${PAD.top - 4}" text-anchor="middle" font-size="11" fill="#2ca02c">best epoch ${bestEpoch}</text>`
        : '',
  });
}

/** The equity of the strategy and of buy-and-hold over the validation windows, both starting at 1. */
export function equityCurveSvg(
  timestamps: { first: string; last: string },
  strategy: number[],
  buyHold: number[],
  title: string,
): string {
  return lineChartSvg({
    title,
    xLabel: `validation windows ${timestamps.first} to ${timestamps.last}`,
    series: [
      { name: 'strategy', color: '#1f77b4', values: [1, ...strategy] },
      { name: 'buy and hold', color: '#7f7f7f', values: [1, ...buyHold] },
    ],
    under: (_x, y) =>
      `<line x1="${PAD.left}" y1="${y(1).toFixed(1)}" x2="${W - PAD.right}" y2="${y(1).toFixed(1)}" stroke="#ccc" stroke-dasharray="4 3"/>`,
  });
}
