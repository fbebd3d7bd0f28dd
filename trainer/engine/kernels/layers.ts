// AssemblyScript, compiled to trainer/engine/kernels/layers.wasm by `npm run build:kernels` (WebAssembly SIMD).
//
// The layers around the LSTMs in a fused training step (trainer/engine/fused-training.ts): batch norm, the attention
// block, dropout and Adam, each a few passes over its arrays. In JS these loops cost about a fifth of a training
// batch; here they run four lanes at a time. Memory is laid out by the caller (trainer/engine/layers.ts): every
// pointer is a byte offset of a row-major f32 array, 16-byte aligned. Rows are time-major: row t·B + b.

export function heapBase(): usize {
  return (__heap_base + 15) & ~15;
}

// Batch norm in training mode over the rows of x [rows, U]: the batch's mean and biased variance per column, the
// moving averages moved toward them, and normalized = (x - mean)/√(var + ε), out = γ·normalized + β.
// mean, variance, invStd are [U] scratch arrays the caller reads invStd back from.
export function batchNormTrain(
  x: usize, rows: i32, u: i32,
  gamma: usize, beta: usize, movingMean: usize, movingVariance: usize, momentum: f32, epsilon: f32,
  mean: usize, variance: usize, invStd: usize, normalized: usize, out: usize,
): void {
  const bytes = <usize>u << 2;
  memory.fill(mean, 0, bytes);
  memory.fill(variance, 0, bytes);
  for (let r = 0; r < rows; r++) addRow(mean, x + <usize>r * bytes, u);
  const n = <f32>rows;
  for (let j = 0; j < u; j++) store<f32>(mean + (<usize>j << 2), load<f32>(mean + (<usize>j << 2)) / n);
  for (let r = 0; r < rows; r++) addSquaredDeviation(variance, x + <usize>r * bytes, mean, u);
  for (let j = 0; j < u; j++) {
    const at = <usize>j << 2;
    const m = load<f32>(mean + at);
    const v = load<f32>(variance + at) / n;
    store<f32>(variance + at, v);
    store<f32>(invStd + at, 1 / Mathf.sqrt(v + epsilon));
    const mm = load<f32>(movingMean + at);
    const mv = load<f32>(movingVariance + at);
    store<f32>(movingMean + at, mm - (mm - m) * (1 - momentum));
    store<f32>(movingVariance + at, mv - (mv - v) * (1 - momentum));
  }
  normalizeRows(x, rows, u, mean, invStd, gamma, beta, normalized, out);
}

// Batch norm in inference mode: the moving statistics. invStd is [U] scratch.
export function batchNormInfer(
  x: usize, rows: i32, u: i32,
  gamma: usize, beta: usize, movingMean: usize, movingVariance: usize, epsilon: f32,
  invStd: usize, out: usize,
): void {
  for (let j = 0; j < u; j++) {
    const at = <usize>j << 2;
    store<f32>(invStd + at, 1 / Mathf.sqrt(load<f32>(movingVariance + at) + epsilon));
  }
  normalizeRows(x, rows, u, movingMean, invStd, gamma, beta, 0, out);
}

// The full batch-norm gradient (through the batch mean and variance):
// dx = γ·invStd·(dy - Σdy/rows - normalized·Σ(dy·normalized)/rows); dGamma = Σ dy·normalized, dBeta = Σ dy.
export function batchNormBackward(
  dy: usize, normalized: usize, rows: i32, u: i32, gamma: usize, invStd: usize,
  dGamma: usize, dBeta: usize, dx: usize,
): void {
  const bytes = <usize>u << 2;
  memory.fill(dGamma, 0, bytes);
  memory.fill(dBeta, 0, bytes);
  const u4 = u & ~3;
  for (let r = 0; r < rows; r++) {
    const row = <usize>r * bytes;
    let j = 0;
    for (; j < u4; j += 4) {
      const at = <usize>j << 2;
      const g = v128.load(dy + row + at);
      v128.store(dBeta + at, f32x4.add(v128.load(dBeta + at), g));
      v128.store(dGamma + at, f32x4.add(v128.load(dGamma + at), f32x4.mul(g, v128.load(normalized + row + at))));
    }
    for (; j < u; j++) {
      const at = <usize>j << 2;
      const g = load<f32>(dy + row + at);
      store<f32>(dBeta + at, load<f32>(dBeta + at) + g);
      store<f32>(dGamma + at, load<f32>(dGamma + at) + g * load<f32>(normalized + row + at));
    }
  }
  const n = <f32>rows;
  for (let r = 0; r < rows; r++) {
    const row = <usize>r * bytes;
    let j = 0;
    for (; j < u4; j += 4) {
      const at = <usize>j << 2;
      const scale = f32x4.mul(v128.load(gamma + at), v128.load(invStd + at));
      const meanDy = f32x4.div(v128.load(dBeta + at), f32x4.splat(n));
      const meanDyX = f32x4.div(v128.load(dGamma + at), f32x4.splat(n));
      const centered = f32x4.sub(
        f32x4.sub(v128.load(dy + row + at), meanDy),
        f32x4.mul(v128.load(normalized + row + at), meanDyX),
      );
      v128.store(dx + row + at, f32x4.mul(scale, centered));
    }
    for (; j < u; j++) {
      const at = <usize>j << 2;
      const centered =
        load<f32>(dy + row + at) - load<f32>(dBeta + at) / n -
        (load<f32>(normalized + row + at) * load<f32>(dGamma + at)) / n;
      store<f32>(dx + row + at, load<f32>(gamma + at) * load<f32>(invStd + at) * centered);
    }
  }
}

// Attention over the T steps of each of B windows, sequence s [T·B, U] time-major: score = tanh(s·w + bias) per
// row, weights = softmax of the scores over each window's steps, out = s scaled by its row's weight.
export function attentionForward(
  s: usize, t: i32, b: i32, u: i32, w: usize, bias: f32, score: usize, weights: usize, out: usize,
): void {
  const rows = t * b;
  const bytes = <usize>u << 2;
  for (let r = 0; r < rows; r++) {
    const z = dot(s + <usize>r * bytes, w, u) + bias;
    store<f32>(score + (<usize>r << 2), 1 - 2 / (Mathf.exp(2 * z) + 1));
  }
  for (let k = 0; k < b; k++) {
    let max: f32 = -Infinity;
    for (let i = 0; i < t; i++) max = Mathf.max(max, load<f32>(score + (<usize>(i * b + k) << 2)));
    let sum: f32 = 0;
    for (let i = 0; i < t; i++) {
      const e = Mathf.exp(load<f32>(score + (<usize>(i * b + k) << 2)) - max);
      store<f32>(weights + (<usize>(i * b + k) << 2), e);
      sum += e;
    }
    for (let i = 0; i < t; i++) {
      const at = weights + (<usize>(i * b + k) << 2);
      store<f32>(at, load<f32>(at) / sum);
    }
  }
  for (let r = 0; r < rows; r++) scaleRow(out + <usize>r * bytes, s + <usize>r * bytes, load<f32>(weights + (<usize>r << 2)), u);
}

// The attention block's backward pass from dOut [T·B, U]: dS [T·B, U] (through the scaling and the score), dW [U],
// and the bias gradient, returned. dWeights, dScore are [T·B] scratch.
export function attentionBackward(
  dOut: usize, s: usize, score: usize, weights: usize, t: i32, b: i32, u: i32, w: usize,
  dWeights: usize, dScore: usize, dS: usize, dW: usize,
): f32 {
  const rows = t * b;
  const bytes = <usize>u << 2;
  for (let r = 0; r < rows; r++) {
    const row = <usize>r * bytes;
    store<f32>(dWeights + (<usize>r << 2), dot(dOut + row, s + row, u));
    scaleRow(dS + row, dOut + row, load<f32>(weights + (<usize>r << 2)), u);
  }
  for (let k = 0; k < b; k++) {
    let inner: f32 = 0;
    for (let i = 0; i < t; i++) {
      const at = <usize>(i * b + k) << 2;
      inner += load<f32>(weights + at) * load<f32>(dWeights + at);
    }
    for (let i = 0; i < t; i++) {
      const at = <usize>(i * b + k) << 2;
      const a = load<f32>(score + at);
      store<f32>(dScore + at, load<f32>(weights + at) * (load<f32>(dWeights + at) - inner) * (1 - a * a));
    }
  }
  memory.fill(dW, 0, bytes);
  let dBias: f32 = 0;
  for (let r = 0; r < rows; r++) {
    const row = <usize>r * bytes;
    const d = load<f32>(dScore + (<usize>r << 2));
    dBias += d;
    addScaledRow(dW, s + row, d, u);
    addScaledRow(dS + row, w, d, u);
  }
  return dBias;
}

// Dropout in place: each unit kept (scaled by 1/(1 - rate)) when its uniform draw is at least rate, else 0; the
// draws are mulberry32 from seed, and the mask (the scale or 0 per unit) is written for the backward pass.
export function dropout(values: usize, n: i32, rate: f32, seed: u32, mask: usize): void {
  const keep: f32 = 1 / (1 - rate);
  // Draw i is mulberry32's state seed + (i + 1)·0x6d2b79f5 mixed, so four draws are four lanes. A unit is kept when
  // draw / 2^32 >= rate, that is when the mixed u32 is at least ⌈rate·2^32⌉ (rate < 1).
  const threshold = <u32>Math.ceil(<f64>rate * 4294967296.0);
  const step = i32x4.splat(<i32>(0x6d2b79f5 * 4));
  let a = i32x4.add(i32x4.splat(<i32>seed), i32x4.mul(i32x4(1, 2, 3, 4), i32x4.splat(0x6d2b79f5)));
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    let x = i32x4.mul(v128.xor(a, i32x4.shr_u(a, 15)), v128.or(a, i32x4.splat(1)));
    x = v128.xor(x, i32x4.add(x, i32x4.mul(v128.xor(x, i32x4.shr_u(x, 7)), v128.or(x, i32x4.splat(61)))));
    x = v128.xor(x, i32x4.shr_u(x, 14));
    const m = v128.and(i32x4.ge_u(x, i32x4.splat(<i32>threshold)), f32x4.splat(keep));
    const at = <usize>i << 2;
    v128.store(mask + at, m);
    v128.store(values + at, f32x4.mul(v128.load(values + at), m));
    a = i32x4.add(a, step);
  }
  let s = seed + <u32>i * 0x6d2b79f5;
  for (; i < n; i++) {
    s += 0x6d2b79f5;
    let x = (s ^ (s >> 15)) * (s | 1);
    x ^= x + (x ^ (x >> 7)) * (x | 61);
    const m: f32 = (x ^ (x >> 14)) >= threshold ? keep : 0;
    const at = <usize>i << 2;
    store<f32>(mask + at, m);
    store<f32>(values + at, load<f32>(values + at) * m);
  }
}

// values ⊙ mask in place.
export function multiply(values: usize, mask: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i << 2;
    v128.store(values + at, f32x4.mul(v128.load(values + at), v128.load(mask + at)));
  }
  for (; i < n; i++) {
    const at = <usize>i << 2;
    store<f32>(values + at, load<f32>(values + at) * load<f32>(mask + at));
  }
}

// One Adam update in place, as tfjs's: m and v moved toward g and g², w -= rate·(m/c1)/(√(v/c2) + ε), where
// c1 = 1 - β1^step and c2 = 1 - β2^step.
export function adam(
  w: usize, g: usize, m: usize, v: usize, n: i32,
  rate: f32, c1: f32, c2: f32, beta1: f32, beta2: f32, epsilon: f32,
): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i << 2;
    const gi = v128.load(g + at);
    const mi = f32x4.add(f32x4.mul(f32x4.splat(beta1), v128.load(m + at)), f32x4.mul(f32x4.splat(1 - beta1), gi));
    const vi = f32x4.add(
      f32x4.mul(f32x4.splat(beta2), v128.load(v + at)),
      f32x4.mul(f32x4.splat(1 - beta2), f32x4.mul(gi, gi)),
    );
    v128.store(m + at, mi);
    v128.store(v + at, vi);
    const step = f32x4.div(
      f32x4.mul(f32x4.splat(rate), f32x4.div(mi, f32x4.splat(c1))),
      f32x4.add(f32x4.sqrt(f32x4.div(vi, f32x4.splat(c2))), f32x4.splat(epsilon)),
    );
    v128.store(w + at, f32x4.sub(v128.load(w + at), step));
  }
  for (; i < n; i++) {
    const at = <usize>i << 2;
    const gi = load<f32>(g + at);
    const mi = beta1 * load<f32>(m + at) + (1 - beta1) * gi;
    const vi = beta2 * load<f32>(v + at) + (1 - beta2) * gi * gi;
    store<f32>(m + at, mi);
    store<f32>(v + at, vi);
    store<f32>(w + at, load<f32>(w + at) - (rate * (mi / c1)) / (Mathf.sqrt(vi / c2) + epsilon));
  }
}

// ---- helpers over one row of u floats

@inline
function addRow(acc: usize, row: usize, u: i32): void {
  let j = 0;
  for (; j + 4 <= u; j += 4) {
    const at = <usize>j << 2;
    v128.store(acc + at, f32x4.add(v128.load(acc + at), v128.load(row + at)));
  }
  for (; j < u; j++) {
    const at = <usize>j << 2;
    store<f32>(acc + at, load<f32>(acc + at) + load<f32>(row + at));
  }
}

@inline
function addSquaredDeviation(acc: usize, row: usize, mean: usize, u: i32): void {
  let j = 0;
  for (; j + 4 <= u; j += 4) {
    const at = <usize>j << 2;
    const d = f32x4.sub(v128.load(row + at), v128.load(mean + at));
    v128.store(acc + at, f32x4.add(v128.load(acc + at), f32x4.mul(d, d)));
  }
  for (; j < u; j++) {
    const at = <usize>j << 2;
    const d = load<f32>(row + at) - load<f32>(mean + at);
    store<f32>(acc + at, load<f32>(acc + at) + d * d);
  }
}

// out = γ·(x - mean)·invStd + β for every row; the normalized values too when `normalized` is not 0.
function normalizeRows(
  x: usize, rows: i32, u: i32, mean: usize, invStd: usize, gamma: usize, beta: usize, normalized: usize, out: usize,
): void {
  const bytes = <usize>u << 2;
  const u4 = u & ~3;
  for (let r = 0; r < rows; r++) {
    const row = <usize>r * bytes;
    let j = 0;
    for (; j < u4; j += 4) {
      const at = <usize>j << 2;
      const h = f32x4.mul(f32x4.sub(v128.load(x + row + at), v128.load(mean + at)), v128.load(invStd + at));
      if (normalized) v128.store(normalized + row + at, h);
      v128.store(out + row + at, f32x4.add(f32x4.mul(v128.load(gamma + at), h), v128.load(beta + at)));
    }
    for (; j < u; j++) {
      const at = <usize>j << 2;
      const h = (load<f32>(x + row + at) - load<f32>(mean + at)) * load<f32>(invStd + at);
      if (normalized) store<f32>(normalized + row + at, h);
      store<f32>(out + row + at, load<f32>(gamma + at) * h + load<f32>(beta + at));
    }
  }
}

@inline
function dot(a: usize, b: usize, u: i32): f32 {
  let acc = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= u; j += 4) {
    const at = <usize>j << 2;
    acc = f32x4.add(acc, f32x4.mul(v128.load(a + at), v128.load(b + at)));
  }
  let sum =
    f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
  for (; j < u; j++) sum += load<f32>(a + (<usize>j << 2)) * load<f32>(b + (<usize>j << 2));
  return sum;
}

// out = x·c for one row.
@inline
function scaleRow(out: usize, x: usize, c: f32, u: i32): void {
  const cv = f32x4.splat(c);
  let j = 0;
  for (; j + 4 <= u; j += 4) {
    const at = <usize>j << 2;
    v128.store(out + at, f32x4.mul(v128.load(x + at), cv));
  }
  for (; j < u; j++) store<f32>(out + (<usize>j << 2), load<f32>(x + (<usize>j << 2)) * c);
}

// acc += x·c for one row.
@inline
function addScaledRow(acc: usize, x: usize, c: f32, u: i32): void {
  const cv = f32x4.splat(c);
  let j = 0;
  for (; j + 4 <= u; j += 4) {
    const at = <usize>j << 2;
    v128.store(acc + at, f32x4.add(v128.load(acc + at), f32x4.mul(v128.load(x + at), cv)));
  }
  for (; j < u; j++) {
    const at = <usize>j << 2;
    store<f32>(acc + at, load<f32>(acc + at) + load<f32>(x + at) * c);
  }
}
