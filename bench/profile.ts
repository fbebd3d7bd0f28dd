/**
 * Where the time of one training batch goes: the full trainer model of a default config, trained on random
 * windows of the reference shape, with tfjs's kernel profile (time per tfjs kernel, summed by name) beside the
 * wall time of the batch. The LSTM recurrence kernel runs outside tfjs: its share is the wall time minus the tfjs
 * kernels' sum (JS glue included).
 *
 *   npx tsx bench/profile.ts [config name] [backend]    # defaults: config_2_deeper, wasm
 */
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_GRID } from '../shared/config.ts';
import { selectBackend } from '../trainer/backend.ts';
import { buildModel } from '../trainer/model.ts';

const configName = process.argv[2] ?? 'config_2_deeper';
const backend = await selectBackend(process.argv[3] ?? 'wasm');
const config = DEFAULT_GRID.configs.find((c) => c.name === configName);
if (config === undefined) throw new Error(`no default config named ${configName}`);
const [steps, features] = [60, 27];
const model = buildModel(config, steps, features, 1);
model.compile({ optimizer: tf.train.adam(1e-3), loss: 'binaryCrossentropy', metrics: ['accuracy'] });
const x = tf.randomNormal([config.batchSize, steps, features], 0, 1, 'float32', 2);
const y = tf.cast(tf.greater(tf.randomUniform([config.batchSize, 1], 0, 1, 'float32', 3), 0.5), 'float32');
for (let i = 0; i < 3; i++) await model.trainOnBatch(x, y); // warm-up

const batches = Number(process.env.PROFILE_BATCHES ?? 10);
const started = performance.now();
const startedCpu = process.cpuUsage();
for (let i = 0; i < batches; i++) await model.trainOnBatch(x, y);
const wall = (performance.now() - started) / batches;
const cpuUsed = process.cpuUsage(startedCpu);
const cpu = (cpuUsed.user + cpuUsed.system) / 1000 / batches;

const byKernel = new Map<string, { ms: number; calls: number }>();
const profile = await tf.profile(async () => {
  await model.trainOnBatch(x, y);
});
for (const k of profile.kernels) {
  const entry = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
  entry.ms += Number(k.kernelTimeMs);
  entry.calls += 1;
  byKernel.set(k.name, entry);
}
const tfjsMs = [...byKernel.values()].reduce((a, b) => a + b.ms, 0);
const calls = [...byKernel.values()].reduce((a, b) => a + b.calls, 0);
console.log(`${configName} on ${backend}, batch ${config.batchSize} of ${steps}×${features}`);
console.log(`per batch (mean of ${batches}): wall ${wall.toFixed(1)} ms, CPU ${cpu.toFixed(1)} ms`);
console.log(
  `tfjs kernels: ${tfjsMs.toFixed(1)} ms in ${calls} calls; the rest (LSTM kernel, JS): ${(wall - tfjsMs).toFixed(1)} ms`,
);
console.log('| tfjs kernel | ms per batch | calls |');
console.log('|---|---:|---:|');
for (const [name, { ms, calls }] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) {
  console.log(`| ${name} | ${ms.toFixed(1)} | ${calls} |`);
}
if (process.env.PROFILE_DETAIL) {
  for (const k of profile.kernels.filter((k) => k.name === process.env.PROFILE_DETAIL).slice(0, 200)) {
    console.log(
      k.name,
      Number(k.kernelTimeMs).toFixed(2),
      JSON.stringify(k.inputShapes),
      JSON.stringify(k.outputShapes),
    );
  }
}
