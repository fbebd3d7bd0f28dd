import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { fastLstm, KERAS_LSTM_DEFAULTS } from '../../trainer/engine/lstm-layer.ts';
import { FastOrthogonal, inverseCholeskyFactor, orthogonal } from '../../trainer/orthogonal.ts';

/** max |MᵀM - I| over the columns of a row-major [rows, cols] matrix. */
function columnOrthogonalityError(m: ArrayLike<number>, rows: number, cols: number): number {
  let worst = 0;
  for (let a = 0; a < cols; a++) {
    for (let b = 0; b < cols; b++) {
      let dot = 0;
      for (let i = 0; i < rows; i++) dot += m[i * cols + a]! * m[i * cols + b]!;
      worst = Math.max(worst, Math.abs(dot - (a === b ? 1 : 0)));
    }
  }
  return worst;
}

describe('the orthogonal initializer', () => {
  beforeAll(async () => {
    tf.enableProdMode(); // as the trainer runs (no "install tfjs-node" banner on console.warn)
    expect(await tf.setBackend('cpu')).toBe(true);
  });
  afterEach(() => vi.restoreAllMocks());

  it('gives a recurrent kernel [256, 1024] with orthonormal rows (QQᵀ = I to 1e-5), silently', () => {
    const warn = vi.spyOn(console, 'warn');
    const q = orthogonal({ seed: 3 }).apply([256, 1024]);
    expect(q.shape).toEqual([256, 1024]);
    // Rows of q are the columns of qᵀ [1024, 256].
    const qT = tf.transpose(q).dataSync();
    expect(columnOrthogonalityError(qT, 1024, 256)).toBeLessThan(1e-5);
    expect(warn).not.toHaveBeenCalled();
    tf.dispose(q);
  });

  it('gives orthonormal columns for a tall shape, scaled by the gain', () => {
    const q = orthogonal({ seed: 5, gain: 2 }).apply([40, 12]);
    const unit = tf.div(q, 2).dataSync();
    expect(columnOrthogonalityError(unit, 40, 12)).toBeLessThan(1e-5);
    tf.dispose(q);
  });

  it('is repeatable for a seed and differs between seeds', () => {
    const [a, b, c] = [7, 7, 8].map((seed) => orthogonal({ seed }).apply([64, 256]).dataSync());
    expect(Array.from(a!)).toEqual(Array.from(b!));
    expect(Array.from(a!)).not.toEqual(Array.from(c!));
  });

  it('is the Q of the seeded Gaussian matrix with a positive diagonal of R (the sign correction)', () => {
    const [rows, cols] = [30, 10];
    const gaussian = tf.randomNormal([rows, cols], 0, 1, 'float32', 11).dataSync();
    const q = orthogonal({ seed: 11 }).apply([rows, cols]).dataSync();
    // R = QᵀA must be upper triangular with a positive diagonal, and QR must give A back.
    for (let i = 0; i < cols; i++) {
      for (let j = 0; j < cols; j++) {
        let r = 0;
        for (let k = 0; k < rows; k++) r += q[k * cols + i]! * gaussian[k * cols + j]!;
        if (i > j) expect(Math.abs(r)).toBeLessThan(1e-5);
        if (i === j) expect(r).toBeGreaterThan(0.1);
      }
    }
  });

  it('gives the same values as tfjs own orthogonal initializer (QR with the sign correction)', () => {
    for (const shape of [
      [12, 30],
      [30, 12],
    ]) {
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
      const stock = tf.initializers.orthogonal({ seed: 13 }).apply(shape).dataSync();
      warn.mockRestore();
      const fast = orthogonal({ seed: 13 }).apply(shape).dataSync();
      const worst = Math.max(...Array.from(fast, (v, i) => Math.abs(v - stock[i]!)));
      expect(worst).toBeLessThan(1e-5);
    }
  });

  it('refuses a factorization it cannot make, saying why', () => {
    expect(() => inverseCholeskyFactor(new Float64Array(6), 2)).toThrow(/6 values for 2×2/);
    expect(() => inverseCholeskyFactor([1, 2, 2, 1], 2)).toThrow(/not positive definite \(pivot 1\)/);
    expect(() => orthogonal().apply([5])).toThrow(/at least 2D/);
  });

  it('serializes as tfjs Orthogonal and is what fastLstm uses for its recurrent kernel', () => {
    const init = orthogonal({ seed: 1, gain: 1 });
    expect(init.getClassName()).toBe('Orthogonal');
    expect(init.getConfig()).toEqual({ gain: 1, seed: 1 });
    for (const seed of [undefined, 4]) {
      const layer = fastLstm({ ...KERAS_LSTM_DEFAULTS, units: 4, seed });
      const cell = (layer as unknown as { cell: { recurrentInitializer: unknown } }).cell;
      expect(cell.recurrentInitializer).toBeInstanceOf(FastOrthogonal);
    }
  });
});
