import * as tf from '@tensorflow/tfjs';
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

/** Loads a model saved by saveModel (or any single-shard tfjs layers model) from the object store. */
export async function loadModel(store: ObjectStore, prefix: string): Promise<tf.LayersModel> {
  const modelJson = JSON.parse((await store.read(`${prefix}model.json`)).toString('utf8'));
  const manifest = modelJson.weightsManifest as Array<{
    paths: string[];
    weights: tf.io.WeightsManifestEntry[];
  }>;
  const buffers = await Promise.all(manifest.flatMap((g) => g.paths).map((p) => store.read(`${prefix}${p}`)));
  const weightData = Buffer.concat(buffers);
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology,
      weightSpecs: manifest.flatMap((g) => g.weights),
      weightData: weightData.buffer.slice(
        weightData.byteOffset,
        weightData.byteOffset + weightData.byteLength,
      ),
    }),
  );
}

export type EpochRecord = {
  epoch: number;
  loss: number;
  val_loss: number;
  accuracy: number;
  val_accuracy: number;
  lr: number;
};

/** A self-contained SVG of loss and val_loss per epoch, the best epoch marked: opens in any browser. */
export function learningCurvesSvg(history: EpochRecord[], bestEpoch: number, title: string): string {
  const W = 640;
  const H = 360;
  const pad = { left: 56, right: 16, top: 36, bottom: 40 };
  const values = history.flatMap((h) => [h.loss, h.val_loss]).filter(Number.isFinite);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const span = hi - lo || 1;
  const n = Math.max(1, history.length - 1);
  const x = (i: number) => pad.left + ((W - pad.left - pad.right) * i) / n;
  const y = (v: number) => pad.top + (H - pad.top - pad.bottom) * (1 - (v - lo) / span);
  const line = (key: 'loss' | 'val_loss') =>
    history.map((h, i) => `${x(i).toFixed(1)},${y(h[key]).toFixed(1)}`).join(' ');
  const bestIndex = history.findIndex((h) => h.epoch === bestEpoch);
  const ticks = [lo, lo + span / 2, hi]
    .map(
      (v) =>
        `<text x="${pad.left - 6}" y="${y(v).toFixed(1)}" text-anchor="end" font-size="11">${v.toFixed(3)}</text>`,
    )
    .join('');
  const escapeXml = (s: string) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(title)}</text>
<line x1="${pad.left}" y1="${H - pad.bottom}" x2="${W - pad.right}" y2="${H - pad.bottom}" stroke="#888"/>
<line x1="${pad.left}" y1="${pad.top}" x2="${pad.left}" y2="${H - pad.bottom}" stroke="#888"/>
${ticks}
<text x="${W / 2}" y="${H - 8}" text-anchor="middle" font-size="12">epoch (1-${history.length})</text>
<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${line('loss')}"/>
<polyline fill="none" stroke="#ff7f0e" stroke-width="2" points="${line('val_loss')}"/>
${bestIndex >= 0 ? `<line x1="${x(bestIndex).toFixed(1)}" y1="${pad.top}" x2="${x(bestIndex).toFixed(1)}" y2="${H - pad.bottom}" stroke="#2ca02c" stroke-dasharray="4 3"/><text x="${x(bestIndex).toFixed(1)}" y="${pad.top - 4}" text-anchor="middle" font-size="11" fill="#2ca02c">best epoch ${bestEpoch}</text>` : ''}
<text x="${W - pad.right}" y="${pad.top + 12}" text-anchor="end" font-size="12" fill="#1f77b4">loss</text>
<text x="${W - pad.right}" y="${pad.top + 28}" text-anchor="end" font-size="12" fill="#ff7f0e">val_loss</text>
</svg>
`;
}

/**
 * A self-contained SVG of the equity of the strategy and of buy-and-hold over the validation windows, both starting
 * at 1 before the first window; drawn like the learning curves.
 */
export function equityCurveSvg(
  timestamps: { first: string; last: string },
  strategy: number[],
  buyHold: number[],
  title: string,
): string {
  const W = 640;
  const H = 360;
  const pad = { left: 56, right: 16, top: 36, bottom: 40 };
  const series = { strategy: [1, ...strategy], buyHold: [1, ...buyHold] };
  const values = [...series.strategy, ...series.buyHold].filter(Number.isFinite);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const span = hi - lo || 1;
  const n = Math.max(1, series.strategy.length - 1);
  const x = (i: number) => pad.left + ((W - pad.left - pad.right) * i) / n;
  const y = (v: number) => pad.top + (H - pad.top - pad.bottom) * (1 - (v - lo) / span);
  const line = (points: number[]) => points.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const ticks = [lo, lo + span / 2, hi]
    .map(
      (v) =>
        `<text x="${pad.left - 6}" y="${y(v).toFixed(1)}" text-anchor="end" font-size="11">${v.toFixed(3)}</text>`,
    )
    .join('');
  const escapeXml = (s: string) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(title)}</text>
<line x1="${pad.left}" y1="${H - pad.bottom}" x2="${W - pad.right}" y2="${H - pad.bottom}" stroke="#888"/>
<line x1="${pad.left}" y1="${pad.top}" x2="${pad.left}" y2="${H - pad.bottom}" stroke="#888"/>
<line x1="${pad.left}" y1="${y(1).toFixed(1)}" x2="${W - pad.right}" y2="${y(1).toFixed(1)}" stroke="#ccc" stroke-dasharray="4 3"/>
${ticks}
<text x="${W / 2}" y="${H - 8}" text-anchor="middle" font-size="12">validation windows ${escapeXml(timestamps.first)} to ${escapeXml(timestamps.last)}</text>
<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${line(series.strategy)}"/>
<polyline fill="none" stroke="#7f7f7f" stroke-width="2" points="${line(series.buyHold)}"/>
<text x="${W - pad.right}" y="${pad.top + 12}" text-anchor="end" font-size="12" fill="#1f77b4">strategy</text>
<text x="${W - pad.right}" y="${pad.top + 28}" text-anchor="end" font-size="12" fill="#7f7f7f">buy and hold</text>
</svg>
`;
}
