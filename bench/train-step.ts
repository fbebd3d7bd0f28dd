/**
 * One training step of a default config, as the trainer takes it (trainer/fold-trainer.ts: tfjs's trainOnBatch on
 * tfjs-node, the path the GPU image runs; the fused step on wasm), on random windows of the reference shape:
 * milliseconds per batch, the tfjs kernels one step dispatches, and what one tiny op costs on that backend (each
 * of those kernels pays at least that, on any device).
 *
 *   npx tsx bench/train-step.ts node [config name]    # or wasm; default config_1_baseline; best and median of
 *                                                     # STEP_REPEATS (default 20) steps after 3 warm-up steps
 */
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_GRID } from '../shared/config.ts';
import { selectBackend } from '../trainer/backend.ts';
import { setKernelThreads } from '../trainer/engine/lstm.ts';
import { foldTrainer } from '../trainer/fold-trainer.ts';
import { buildModel } from '../trainer/model.ts';

const backend = process.argv[2] ?? 'node';
const configName = process.argv[3] ?? 'config_1_baseline';
const config = DEFAULT_GRID.configs.find((c) => c.name === configName);
if (config === undefined) throw new Error(`no default config named ${configName}`);
await selectBackend(backend);
setKernelThreads(1);
const repeats = Number(process.env.STEP_REPEATS ?? 20);
const [steps, features, windows] = [60, 27, 128];

const X = Float32Array.from({ length: windows * steps * features }, (_, i) => Math.sin(i * 12.9898));
const y = Float32Array.from({ length: windows }, (_, i) => i % 2);
const model = buildModel(config, steps, features, 1);
const trainer = foldTrainer(
  model,
  { X, y, validation: { start: windows - 16, end: windows }, shape: { L: steps, F: features } },
  config.learningRate,
);
const batch = Array.from({ length: config.batchSize }, (_, i) => (i * 7) % (windows - 16));
for (let i = 0; i < 3; i++) await trainer.trainBatch(batch);
const times: number[] = [];
for (let i = 0; i < repeats; i++) {
  const t = performance.now();
  await trainer.trainBatch(batch);
  times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
const profile = await tf.profile(async () => {
  await trainer.trainBatch(batch);
});

// One tiny op (a 1-element add), dispatched and freed: the per-kernel overhead of the backend itself.
const a = tf.scalar(1);
const b = tf.scalar(2);
const n = 2000;
const t = performance.now();
for (let i = 0; i < n; i++) tf.add(a, b).dispose();
await tf.add(a, b).data();
const perOpUs = ((performance.now() - t) / n) * 1000;

console.log(
  `${configName}, batch ${config.batchSize} of ${steps}×${features}, ${backend} (${tf.getBackend()}), ${repeats} steps, ${new Date().toISOString()}`,
);
console.log(
  `ms per training step: best ${times[0]!.toFixed(1)}, median ${times[Math.floor(repeats / 2)]!.toFixed(1)}; ` +
    `kernels per step ${profile.kernels.length}; one tiny op ${perOpUs.toFixed(1)} µs`,
);
trainer.finish();
