import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../shared/random.ts';
import * as kernels from '../../../trainer/engine/layers.ts';
import { freshKernelBuild } from '../../helpers/kernels.ts';

// What the kernels compute is held to tfjs in fused-training.test.ts (gradients, Adam steps, inference).
describe('the layer kernels', () => {
  it('are what `npm run build:kernels` builds from trainer/engine/kernels/layers.ts', () => {
    expect(freshKernelBuild('layers.asconfig.json').equals(readFileSync(kernels.LAYER_KERNELS_WASM))).toBe(
      true,
    );
  }, 60_000);

  it('drop about `rate` of the units, scale the kept ones, and draw the same mask from the same seed', () => {
    const n = 4001;
    const values = new Float32Array(n).fill(2);
    const mask = kernels.dropout(values, 0.25, 7);
    const kept = mask.filter((m) => m !== 0);
    expect(new Set(kept)).toEqual(new Set([Math.fround(1 / 0.75)]));
    expect(Math.abs(kept.length / n - 0.75)).toBeLessThan(0.03);
    expect(Array.from(values)).toEqual(Array.from(mask, (m) => Math.fround(2 * m)));
    expect(kernels.dropout(new Float32Array(n).fill(2), 0.25, 7)).toEqual(mask);
    expect(kernels.dropout(new Float32Array(n).fill(2), 0.25, 8)).not.toEqual(mask);
  });

  it('keep unit i when draw i of mulberry32 (shared/random.ts) from the seed is at least the rate', () => {
    // 4 draws at a time in the kernel, then the last ones alone: n = 1003 has both.
    for (const [rate, seed] of [
      [0.3, 42],
      [0.4, 0xfffffff0],
      [0.35, 0],
      [0, 9],
    ] as const) {
      const draw = seededRandom(seed);
      const expected = Array.from({ length: 1003 }, () => (draw() >= rate ? Math.fround(1 / (1 - rate)) : 0));
      expect(Array.from(kernels.dropout(new Float32Array(1003).fill(1), rate, seed)), `rate ${rate}`).toEqual(
        expected,
      );
    }
  });

  it('grow their memory for arrays larger than it (a batch of 5-minute-bar windows)', () => {
    const units = 256;
    const rows = 60 * 256; // 15 MB per array: the module starts with one 64 KiB page
    const x = Float32Array.from({ length: rows * units }, (_, i) => (i % 97) / 97);
    const n = {
      gamma: new Float32Array(units).fill(1),
      beta: new Float32Array(units),
      movingMean: new Float32Array(units),
      movingVariance: new Float32Array(units).fill(1),
      momentum: 0.99,
      epsilon: 1e-3,
    };
    const out = kernels.batchNormInfer(x, n);
    expect(out).toHaveLength(x.length);
    expect(out[rows * units - 1]).toBeCloseTo(x[rows * units - 1]! / Math.sqrt(1 + 1e-3), 5);
  });
});
