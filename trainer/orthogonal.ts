/**
 * tfjs's orthogonal initializer, fast and silent.
 *
 * tfjs's own (`tf.initializers.orthogonal`) draws the same Gaussian matrix and factors it with `tf.linalg.qr`,
 * which runs one small op per Householder step: seconds for a 256×1024 recurrent kernel, with a "Slowness may
 * result" warning on stderr. Here it is a few large products (tens of milliseconds for 256×1024 on wasm).
 *
 * Same distribution, same values: the Gaussian matrix A [max(rows, cols), min(rows, cols)] comes from the same
 * seeded `tf.randomNormal` call as tfjs's; Q is the Q of A = QR with R's diagonal made positive (Keras's and tfjs's
 * sign correction). It is computed by Cholesky QR (AᵀA = RᵀR, Q = AR⁻¹; R from a Cholesky factorization has a
 * positive diagonal by construction), repeated once on Q: the two products run as large tfjs matMuls and only the
 * small [n, n] factorization runs in JS. A Gaussian matrix of these shapes is well conditioned (κ about 3 for
 * 1024×256), which is what makes Cholesky QR accurate here.
 * The class is a subclass of tfjs's `Orthogonal` and serializes as it, so saved models name the stock initializer.
 */
import * as tf from '@tensorflow/tfjs';
import { stockClass } from './stock-classes.ts';

type OrthogonalArgs = { gain?: number; seed?: number };
type StockOrthogonal = ReturnType<typeof tf.initializers.orthogonal>;

/**
 * R⁻¹ for the Cholesky factor R of a symmetric positive definite matrix G [n, n] = RᵀR (R upper triangular with
 * a positive diagonal), row-major, computed in float64.
 */
export function inverseCholeskyFactor(gram: ArrayLike<number>, n: number): Float64Array {
  if (gram.length !== n * n) throw new Error(`inverseCholeskyFactor: ${gram.length} values for ${n}×${n}`);
  // L lower triangular with G = LLᵀ (so R = Lᵀ), then L⁻¹ by forward substitution; R⁻¹ = (L⁻¹)ᵀ.
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = gram[j * n + j]!;
    for (let k = 0; k < j; k++) d -= l[j * n + k]! * l[j * n + k]!;
    if (!(d > 0)) throw new Error(`inverseCholeskyFactor: the matrix is not positive definite (pivot ${j})`);
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let v = gram[i * n + j]!;
      for (let k = 0; k < j; k++) v -= l[i * n + k]! * l[j * n + k]!;
      l[i * n + j] = v / ljj;
    }
  }
  const rInv = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    // Column j of L⁻¹ is row j of R⁻¹.
    rInv[j * n + j] = 1 / l[j * n + j]!;
    for (let i = j + 1; i < n; i++) {
      let v = 0;
      for (let k = j; k < i; k++) v -= l[i * n + k]! * rInv[j * n + k]!;
      rInv[j * n + i] = v / l[i * n + i]!;
    }
  }
  return rInv;
}

/** `tf.initializers.orthogonal` with the same arguments, values and serialization; see the top of this file. */
export class FastOrthogonal extends stockClass<OrthogonalArgs, StockOrthogonal>('Orthogonal') {
  override apply(shape: number[], dtype?: tf.DataType): tf.Tensor {
    if (shape.length < 2)
      throw new Error(`orthogonal initializer: shape must be at least 2D, got [${shape}]`);
    if (dtype !== undefined && dtype !== 'float32') {
      throw new Error(`orthogonal initializer: only float32 is supported, got ${dtype}`);
    }
    const numRows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const numCols = shape[shape.length - 1]!;
    const tall = Math.max(numRows, numCols);
    const narrow = Math.min(numRows, numCols);
    const { gain, seed } = this as unknown as { gain: number; seed?: number };
    return tf.tidy(() => {
      let q: tf.Tensor2D = tf.randomNormal([tall, narrow], 0, 1, 'float32', seed);
      // Cholesky QR, twice: the second pass brings float32 orthogonality to about 1e-6.
      for (let pass = 0; pass < 2; pass++) {
        const gram = tf.matMul(tf.transpose(q), q).dataSync();
        q = tf.matMul(
          q,
          tf.tensor2d(Float32Array.from(inverseCholeskyFactor(gram, narrow)), [narrow, narrow]),
        );
      }
      // Wide: Q's transpose, so that the rows are orthonormal.
      return tf.mul(gain, tf.reshape(numRows < numCols ? tf.transpose(q) : q, shape));
    });
  }
}

/** An orthogonal initializer like `tf.initializers.orthogonal(args)`, fast and silent. */
export function orthogonal(args: OrthogonalArgs = {}): FastOrthogonal {
  return new FastOrthogonal(args);
}
