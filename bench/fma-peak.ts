/**
 * The floor under the LSTM kernel: how many float32 multiply-adds per second one core does through WebAssembly's
 * 128-bit SIMD (f32x4.relaxed_madd, one fused multiply-add on x64 with FMA; plain f32x4.mul + f32x4.add without it),
 * with enough independent accumulators that nothing but the execution units limits it. WebAssembly has no wider
 * vectors, so no wasm code on this core does more; Keras's oneDNN kernels use the core's 256- or 512-bit units.
 *
 *   taskset -c 0 npx tsx bench/fma-peak.ts
 *
 * The kernel is compiled here from a source string with the project's AssemblyScript compiler (a benchmark only).
 */
import asc from 'assemblyscript/asc';

const SOURCE = `
export function peak(rounds: i32, relaxed: bool, scale: f32, shift: f32): f32 {
  let a0 = f32x4.splat(0.0), a1 = f32x4.splat(0.1), a2 = f32x4.splat(0.2), a3 = f32x4.splat(0.3);
  let a4 = f32x4.splat(0.4), a5 = f32x4.splat(0.5), a6 = f32x4.splat(0.6), a7 = f32x4.splat(0.7);
  let a8 = f32x4.splat(0.8), a9 = f32x4.splat(0.9), a10 = f32x4.splat(1.0), a11 = f32x4.splat(1.1);
  // From parameters: constants would be rematerialized in the loop.
  const m = f32x4.splat(scale), c = f32x4.splat(shift);
  if (relaxed) {
    for (let i = 0; i < rounds; i++) {
      a0 = f32x4.relaxed_madd(a0, m, c); a1 = f32x4.relaxed_madd(a1, m, c); a2 = f32x4.relaxed_madd(a2, m, c);
      a3 = f32x4.relaxed_madd(a3, m, c); a4 = f32x4.relaxed_madd(a4, m, c); a5 = f32x4.relaxed_madd(a5, m, c);
      a6 = f32x4.relaxed_madd(a6, m, c); a7 = f32x4.relaxed_madd(a7, m, c); a8 = f32x4.relaxed_madd(a8, m, c);
      a9 = f32x4.relaxed_madd(a9, m, c); a10 = f32x4.relaxed_madd(a10, m, c); a11 = f32x4.relaxed_madd(a11, m, c);
    }
  } else {
    for (let i = 0; i < rounds; i++) {
      a0 = f32x4.add(f32x4.mul(a0, m), c); a1 = f32x4.add(f32x4.mul(a1, m), c); a2 = f32x4.add(f32x4.mul(a2, m), c);
      a3 = f32x4.add(f32x4.mul(a3, m), c); a4 = f32x4.add(f32x4.mul(a4, m), c); a5 = f32x4.add(f32x4.mul(a5, m), c);
      a6 = f32x4.add(f32x4.mul(a6, m), c); a7 = f32x4.add(f32x4.mul(a7, m), c); a8 = f32x4.add(f32x4.mul(a8, m), c);
      a9 = f32x4.add(f32x4.mul(a9, m), c); a10 = f32x4.add(f32x4.mul(a10, m), c); a11 = f32x4.add(f32x4.mul(a11, m), c);
    }
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  return f32x4.extract_lane(f32x4.add(s, f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11))), 0);
}
`;

const compiled = await asc.compileString(SOURCE, {
  optimizeLevel: 3,
  runtime: 'stub',
  noAssert: true,
  enable: ['simd', 'relaxed-simd'],
});
if (compiled.error || !compiled.binary) {
  throw new Error(`compiling the peak kernel: ${compiled.error?.message}\n${compiled.stderr.toString()}`);
}
const instance = new WebAssembly.Instance(new WebAssembly.Module(compiled.binary as Uint8Array<ArrayBuffer>));
const peak = instance.exports.peak as (
  rounds: number,
  relaxed: boolean,
  scale: number,
  shift: number,
) => number;

// Warm up: V8 runs a wasm function in its baseline compiler until it has been called enough to be optimized.
for (let i = 0; i < 2000; i++) peak(1000, i % 2 === 0, 0.999999, 1e-7);
await new Promise((resolve) => setTimeout(resolve, 200));
const ROUNDS = 20_000_000;
/** 12 accumulators × 4 lanes × 2 flops per round. */
const FLOPS = ROUNDS * 12 * 4 * 2;
for (const relaxed of [true, false]) {
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < 7; r++) {
    const t = performance.now();
    peak(ROUNDS, relaxed, 0.999999, 1e-7);
    best = Math.min(best, performance.now() - t);
  }
  const name = relaxed ? 'f32x4.relaxed_madd' : 'f32x4.mul + f32x4.add';
  console.log(`${name}: ${(FLOPS / best / 1e6).toFixed(1)} GFLOP/s (best of 7, ${best.toFixed(1)} ms)`);
}
