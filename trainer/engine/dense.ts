/**
 * The dense layers of the fused step's head, forward and backward, as plain loops: the head is small (a few
 * thousand weights), so WebAssembly would not pay for the copies in and out.
 */

/** The activations the step computes, each with its derivative from the layer's output y. */
export const DENSE_ACTIVATIONS = {
  linear: { apply: (v: number) => v, slope: (_y: number) => 1 },
  relu: { apply: (v: number) => (v > 0 ? v : 0), slope: (y: number) => (y > 0 ? 1 : 0) },
  sigmoid: { apply: (v: number) => 1 / (1 + Math.exp(-v)), slope: (y: number) => y * (1 - y) },
  tanh: { apply: Math.tanh, slope: (y: number) => 1 - y * y },
} as const;
export type DenseActivation = keyof typeof DENSE_ACTIVATIONS;

export const isDenseActivation = (a: string): a is DenseActivation => Object.hasOwn(DENSE_ACTIVATIONS, a);

export type Dense = {
  kernel: Float32Array;
  bias: Float32Array;
  units: number;
  l2: number;
  activation: DenseActivation;
};

/** activation(x [B, in]·kernel [in, units] + bias). */
export function denseForward(x: Float32Array, d: Dense, B: number): Float32Array {
  const inputs = d.kernel.length / d.units;
  const { apply } = DENSE_ACTIVATIONS[d.activation];
  const out = new Float32Array(B * d.units);
  for (let b = 0; b < B; b++)
    for (let j = 0; j < d.units; j++) {
      let sum = d.bias[j]!;
      for (let i = 0; i < inputs; i++) sum += x[b * inputs + i]! * d.kernel[i * d.units + j]!;
      out[b * d.units + j] = apply(sum);
    }
  return out;
}

/** Turns dy at a layer's output into dy at its pre-activation, in place. */
export function activationBackward(
  dy: Float32Array,
  output: Float32Array,
  activation: DenseActivation,
): void {
  const { slope } = DENSE_ACTIVATIONS[activation];
  for (let j = 0; j < dy.length; j++) dy[j]! *= slope(output[j]!);
}

/** The gradients of a dense layer from its input [B, in] and dy at its pre-activation [B, units]. */
export function denseBackward(input: Float32Array, dPre: Float32Array, d: Dense, B: number) {
  const inputs = d.kernel.length / d.units;
  return {
    dx: productTransposed(dPre, d.kernel, B, d.units, inputs),
    dKernel: transposedProduct(input, dPre, B, inputs, d.units),
    dBias: columnSums(dPre, B, d.units),
  };
}

/** aᵀ·b for a [m, k], b [m, n]: [k, n]. */
function transposedProduct(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float32Array {
  const out = new Float32Array(k * n);
  for (let r = 0; r < m; r++)
    for (let i = 0; i < k; i++) {
      const v = a[r * k + i]!;
      if (v === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j]! += v * b[r * n + j]!;
    }
  return out;
}

/** a·bᵀ for a [m, n], b [k, n]: [m, k]. */
function productTransposed(a: Float32Array, b: Float32Array, m: number, n: number, k: number): Float32Array {
  const out = new Float32Array(m * k);
  for (let r = 0; r < m; r++)
    for (let i = 0; i < k; i++) {
      let sum = 0;
      for (let j = 0; j < n; j++) sum += a[r * n + j]! * b[i * n + j]!;
      out[r * k + i] = sum;
    }
  return out;
}

function columnSums(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) out[j]! += a[r * cols + j]!;
  return out;
}
