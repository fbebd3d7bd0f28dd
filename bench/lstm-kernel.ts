/**
 * The WebAssembly LSTM kernel alone (trainer/lstm-kernel.ts): forward and backward over 60 steps of a batch of 16,
 * for each LSTM size of the default configs, in GFLOP/s of the recurrent products (2·T·B·U·4U each way).
 *
 *   npx tsx bench/lstm-kernel.ts
 */
import { kernelMatMul, lstmBackward, lstmForward } from '../trainer/lstm-kernel.ts';

const [steps, batch] = [60, 16];
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
  const shape = { steps, batch, units };
  const projected = fill(steps * batch * 4 * units, 1);
  const recurrent = fill(units * 4 * units, 0.1);
  const dy = fill(steps * batch * units, 1);
  const state = lstmForward(projected, recurrent, shape, 'sigmoid');
  const f = best(() => lstmForward(projected, recurrent, shape, 'sigmoid'));
  const b = best(() => lstmBackward(state, recurrent, dy));
  const gflop = (2 * steps * batch * units * 4 * units) / 1e9;
  console.log(
    `| ${units} | ${f.toFixed(2)} | ${(gflop / (f / 1000)).toFixed(1)} | ${b.toFixed(2)} | ${(gflop / (b / 1000)).toFixed(1)} |`,
  );
}
const [m, k, n] = [16, 256, 1024];
const [a, b] = [fill(m * k, 1), fill(k * n, 1)];
const ms = best(() => kernelMatMul(a, b, m, k, n));
console.log(
  `matMul ${m}×${k}·${k}×${n} (copies included): ${ms.toFixed(2)} ms, ${((2 * m * k * n) / 1e6 / ms).toFixed(1)} GFLOP/s`,
);
