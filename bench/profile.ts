/**
 * Where the time of one training batch goes on the wasm/cpu path (trainer/engine/fused-training.ts): the whole fused step
 * of a default config on random windows of the reference shape, beside each of its three LSTM layers' kernel calls
 * alone (forward, backward) with the same shapes; the rest is the loops around them (dropout, batch norm,
 * attention, dense head, loss, Adam) and the copies in and out of the kernel's memory.
 *
 *   npx tsx bench/profile.ts [config name]    # default config_2_deeper; best of PROFILE_REPEATS (default 15);
 *                                             # PROFILE_THREADS=2 for the kernel on 2 threads
 */
import { DEFAULT_GRID } from '../shared/config.ts';
import { selectBackend } from '../trainer/backend.ts';
import { FusedTraining } from '../trainer/engine/fused-training.ts';
import {
  lstmLayerBackward,
  lstmLayerForward,
  releaseLstmState,
  setKernelThreads,
} from '../trainer/engine/lstm.ts';
import { buildModel } from '../trainer/model.ts';

const configName = process.argv[2] ?? 'config_2_deeper';
const config = DEFAULT_GRID.configs.find((c) => c.name === configName);
if (config === undefined) throw new Error(`no default config named ${configName}`);
await selectBackend('wasm');
// The kernel's threads (bit-identical results whatever the count): PROFILE_THREADS, default 1.
setKernelThreads(Number(process.env.PROFILE_THREADS ?? 1));
const repeats = Number(process.env.PROFILE_REPEATS ?? 15);
const [steps, features] = [60, 27];
const B = config.batchSize;

/** Best wall and CPU milliseconds of `repeats` runs of f (best: the least disturbed by other processes). */
function best(f: () => void): { wall: number; cpu: number } {
  let wall = Number.POSITIVE_INFINITY;
  let cpu = Number.POSITIVE_INFINITY;
  f();
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    const c = process.cpuUsage();
    f();
    const used = process.cpuUsage(c);
    wall = Math.min(wall, performance.now() - t);
    cpu = Math.min(cpu, (used.user + used.system) / 1000);
  }
  return { wall, cpu };
}

const fill = (n: number, scale: number) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * scale);
const windows = 64;
const X = fill(windows * steps * features, 1);
const y = Float32Array.from({ length: windows }, (_, i) => i % 2);
const model = buildModel(config, steps, features, 1);
const fused = FusedTraining.fromModel(model, config.learningRate);
let seed = 1;
const random = () => {
  seed = (seed * 16807) % 2147483647;
  return seed / 2147483647;
};
const indices = Array.from({ length: B }, (_, i) => (i * 7) % windows);
const step = best(() => fused.trainBatch(X, y, indices, random));

const rows: string[] = [];
let lstmWall = 0;
let inputs = features;
config.lstmUnits.forEach((units, layer) => {
  const g = 4 * units;
  const shape = { steps, batch: B, inputs, units };
  const weights = { kernel: fill(inputs * g, 0.1), bias: fill(g, 0.1), recurrent: fill(units * g, 0.1) };
  const x = fill(steps * B * inputs, 1);
  const dy = fill(layer === 2 ? B * units : steps * B * units, 1);
  const forward = best(() => releaseLstmState(lstmLayerForward(x, weights, shape, 'sigmoid')));
  const state = lstmLayerForward(x, weights, shape, 'sigmoid');
  // As in the fused step: the first layer computes no dx.
  const backward = best(() => lstmLayerBackward(state, dy, { inputGradient: layer > 0 }));
  releaseLstmState(state);
  lstmWall += forward.wall + backward.wall;
  rows.push(
    `| lstm_${layer + 1} (${inputs}→${units}) | ${forward.wall.toFixed(1)} | ${backward.wall.toFixed(1)} |`,
  );
  inputs = units;
});
console.log(
  `${configName}, batch ${B} of ${steps}×${features}, wasm, best of ${repeats}, ${new Date().toISOString()}`,
);
console.log(`fused training step: wall ${step.wall.toFixed(1)} ms, CPU ${step.cpu.toFixed(1)} ms per batch`);
console.log('| LSTM layer | forward ms | backward ms |');
console.log('|---|---:|---:|');
for (const row of rows) console.log(row);
console.log(
  `LSTM kernel calls ${lstmWall.toFixed(1)} ms; the rest (loops, copies, Adam) ${(step.wall - lstmWall).toFixed(1)} ms`,
);
