/**
 * The WebAssembly LSTM kernel alone (trainer/lstm-kernel.ts): one layer's forward and backward over 60 steps of a
 * batch of 16, 27 features in, for each LSTM size of the default configs, in GFLOP/s of its products (forward
 * x·W and h·R; backward dz·Rᵀ, dR, dW, dx).
 *
 *   npx tsx bench/lstm-kernel.ts
 */
import { kernelMatMul, lstmLayerBackward, lstmLayerForward } from '../trainer/lstm-kernel.ts';

const [steps, batch, inputs] = [60, 16, 27];
const fill = (n: number, scale: number) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * scale);
const best = (f: () => void) => {
  let ms = Number.POSITIVE_INFINITY;
  for (let rep = 0; rep < 7; rep++) {
    const t = performance.now();
    f();
    ms = Math.min(ms, performance.now() - t);
  }
  return ms;
};
console.log('| units | forward ms | GFLOP/s | backward ms | GFLOP/s |');
console.log('|---:|---:|---:|---:|---:|');
for (const units of [256, 192, 128, 96, 64, 48, 32]) {
  const shape = { steps, batch, inputs, units };
  const g = 4 * units;
  const x = fill(steps * batch * inputs, 1);
  const weights = { kernel: fill(inputs * g, 0.1), bias: fill(g, 0.1), recurrent: fill(units * g, 0.1) };
  const dy = fill(steps * batch * units, 1);
  const state = lstmLayerForward(x, weights, shape, 'sigmoid');
  const f = best(() => lstmLayerForward(x, weights, shape, 'sigmoid'));
  const b = best(() => lstmLayerBackward(state, dy));
  const rows = steps * batch;
  const forwardGflop = (2 * rows * (inputs + units) * g) / 1e9;
  const backwardGflop = (2 * rows * (2 * units + 2 * inputs) * g) / 1e9;
  console.log(
    `| ${units} | ${f.toFixed(2)} | ${(forwardGflop / (f / 1000)).toFixed(1)} | ${b.toFixed(2)} | ${(backwardGflop / (b / 1000)).toFixed(1)} |`,
  );
}
const [m, k, n] = [16, 256, 1024];
const [a, b] = [fill(m * k, 1), fill(k * n, 1)];
const ms = best(() => kernelMatMul(a, b, m, k, n));
console.log(
  `matMul ${m}×${k}·${k}×${n} (copies included): ${ms.toFixed(2)} ms, ${((2 * m * k * n) / 1e6 / ms).toFixed(1)} GFLOP/s`,
);
