/**
 * The WebAssembly LSTM kernel alone (trainer/engine/lstm.ts): forward and backward of each LSTM layer of the
 * three default configs over 60 steps of a batch of 16, on 1 thread and on more (up to the machine's cores, or
 * BENCH_THREADS), forced past the kernel's size threshold so that every layer shows what threads give it; the last
 * column is what the threshold gives it. Best of BENCH_REPS (40) runs, each after BENCH_GAP_MS (3) ms of other
 * work, in ms, with the GFLOP/s of the layer's products (forward x·W and h·R; backward dz·Rᵀ, dR, dW, dx).
 *
 *   npx tsx bench/lstm-kernel.ts
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import {
  kernelMatMul,
  layerThreads,
  lstmLayerBackward,
  lstmLayerForward,
  releaseLstmState,
  setKernelThreads,
} from '../trainer/engine/lstm.ts';

const [steps, batch] = [60, 16];
const maxThreads = Number(process.env.BENCH_THREADS ?? availableParallelism());
const fill = (n: number, scale: number) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * scale);
const REPS = Number(process.env.BENCH_REPS ?? 40);
// Before each timed call the main thread works this long without the kernel, as tfjs does between the layers of a
// training step, so that the workers have gone to sleep, as they have in training.
const GAP_MS = Number(process.env.BENCH_GAP_MS ?? 3);
const time = (f: () => void) => {
  const gapEnd = performance.now() + GAP_MS;
  while (performance.now() < gapEnd);
  const t = performance.now();
  f();
  return performance.now() - t;
};
// The three LSTM layers of config_1 (128/64/32), config_2 (256/128/64) and config_3 (192/96/48): inputs, units, every step's output or
// the last one's (the third layer).
const layers = [
  { config: 'config_1', inputs: 27, units: 128, sequences: true },
  { config: 'config_1', inputs: 128, units: 64, sequences: true },
  { config: 'config_1', inputs: 64, units: 32, sequences: false },
  { config: 'config_2', inputs: 27, units: 256, sequences: true },
  { config: 'config_2', inputs: 256, units: 128, sequences: true },
  { config: 'config_2', inputs: 128, units: 64, sequences: false },
  { config: 'config_3', inputs: 27, units: 192, sequences: true },
  { config: 'config_3', inputs: 192, units: 96, sequences: true },
  { config: 'config_3', inputs: 96, units: 48, sequences: false },
  // Smaller layers, to find where the per-step barriers eat what a second thread gives.
  ...[24, 16, 8].map((units) => ({ config: 'small', inputs: 27, units, sequences: true })),
];
const threadCounts = Array.from({ length: maxThreads }, (_, i) => i + 1);
console.log(
  `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, load average ${loadavg()[0]!.toFixed(2)}`,
);
console.log(
  `| layer | in → units | threads | forward ms | GFLOP/s | backward ms | GFLOP/s | default threads |`,
);
console.log('|---|---|---:|---:|---:|---:|---:|---:|');
for (const { config, inputs, units, sequences } of layers) {
  const shape = { steps, batch, inputs, units };
  const g = 4 * units;
  const rows = steps * batch;
  const x = fill(rows * inputs, 1);
  const weights = { kernel: fill(inputs * g, 0.1), bias: fill(g, 0.1), recurrent: fill(units * g, 0.1) };
  const dy = fill((sequences ? rows : batch) * units, 1);
  const forwardGflop = (2 * rows * (inputs + units) * g) / 1e9;
  const backwardGflop = (2 * rows * (2 * units + 2 * inputs) * g) / 1e9;
  setKernelThreads(maxThreads);
  const chosen = layerThreads(units);
  // The thread counts take turns, rep by rep, so that each meets the machine's other load alike; best of REPS.
  const forwardMs = threadCounts.map(() => Number.POSITIVE_INFINITY);
  const backwardMs = threadCounts.map(() => Number.POSITIVE_INFINITY);
  for (let rep = 0; rep < REPS; rep++) {
    for (const [i, threads] of threadCounts.entries()) {
      setKernelThreads(threads, { minUnitsPerThread: 1 });
      // A first call, released: the timed one's state is then the only one in kernel memory.
      let state = lstmLayerForward(x, weights, shape, 'sigmoid');
      releaseLstmState(state);
      forwardMs[i] = Math.min(
        forwardMs[i]!,
        time(() => {
          state = lstmLayerForward(x, weights, shape, 'sigmoid');
        }),
      );
      backwardMs[i] = Math.min(
        backwardMs[i]!,
        time(() => lstmLayerBackward(state, dy)),
      );
      releaseLstmState(state);
    }
  }
  for (const [i, threads] of threadCounts.entries()) {
    const [f, b] = [forwardMs[i]!, backwardMs[i]!];
    console.log(
      `| ${config} | ${inputs} → ${units} | ${threads} | ${f.toFixed(2)} | ${(forwardGflop / (f / 1000)).toFixed(1)} | ${b.toFixed(2)} | ${(backwardGflop / (b / 1000)).toFixed(1)} | ${chosen} |`,
    );
  }
}
setKernelThreads(1);
const [m, k, n] = [16, 256, 1024];
const [a, b] = [fill(m * k, 1), fill(k * n, 1)];
let ms = Number.POSITIVE_INFINITY;
for (let rep = 0; rep < REPS; rep++)
  ms = Math.min(
    ms,
    time(() => kernelMatMul(a, b, m, k, n)),
  );
console.log(
  `matMul ${m}×${k}·${k}×${n} (copies included, one thread): ${ms.toFixed(2)} ms, ${((2 * m * k * n) / 1e6 / ms).toFixed(1)} GFLOP/s`,
);
