// AssemblyScript, compiled to trainer/kernels/lstm.wasm by `npm run build:kernels` (WebAssembly SIMD).
//
// The recurrent part of an LSTM layer over all time steps, forward and backward, in two calls: what tfjs runs as
// thousands of small kernel calls per batch. The products that cover all steps at once (x·W, and dW, dR, dx from
// dz) stay in tfjs, where they are large. Memory is laid out by the caller (trainer/lstm-kernel.ts): every pointer
// is a byte offset of a row-major f32 array, 16-byte aligned. Shapes: T steps, B batch rows, U units, G = 4U.
// Gate order i, f, c (g), o, as in tfjs and Keras.

const SIGMOID: i32 = 0;
const HARD_SIGMOID: i32 = 1;

@inline
function gate(x: f32, kind: i32): f32 {
  if (kind == HARD_SIGMOID) return min<f32>(max<f32>(0.2 * x + 0.5, 0), 1);
  return 1 / (1 + Mathf.exp(-x));
}

// d gate / d x, from the gate's output a.
@inline
function gateSlope(a: f32, kind: i32): f32 {
  if (kind == HARD_SIGMOID) return a > 0 && a < 1 ? <f32>0.2 : <f32>0;
  return a * (1 - a);
}

@inline
function tanh(x: f32): f32 {
  // tanh(x) = 1 - 2 / (e^{2x} + 1); saturates cleanly for large |x|.
  return 1 - 2 / (Mathf.exp(2 * x) + 1);
}

// e^x for four lanes (Cephes' expf): x = n·ln2 + r, |r| ≤ ln2/2, e^r by a degree-6 polynomial, 2^n into the
// exponent bits. Relative error about 2e-7 over [-87, 88]; inputs are clamped there.
@inline
function exp4(x: v128): v128 {
  x = f32x4.min(f32x4.max(x, f32x4.splat(-87.0)), f32x4.splat(88.0));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.mul(f32x4.mul(p, r), r), f32x4.add(r, f32x4.splat(1)));
  const scale = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(p, scale);
}

@inline
function gate4(x: v128, kind: i32): v128 {
  if (kind == HARD_SIGMOID) {
    return f32x4.min(f32x4.max(f32x4.add(f32x4.mul(x, f32x4.splat(0.2)), f32x4.splat(0.5)), f32x4.splat(0)), f32x4.splat(1));
  }
  return f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), exp4(f32x4.neg(x))));
}

@inline
function tanh4(x: v128): v128 {
  return f32x4.sub(f32x4.splat(1), f32x4.div(f32x4.splat(2), f32x4.add(exp4(f32x4.add(x, x)), f32x4.splat(1))));
}

// Copies the first n & ~7 columns of B [k, n] into panels of eight columns, each a contiguous [k, 8] block, so that
// a product streams B in order.
export function pack(b: usize, bp: usize, k: i32, n: i32): void {
  const n8 = n & ~7;
  const rowB = <usize>n << 2;
  for (let j = 0; j < n8; j += 8) {
    let src = b + (<usize>j << 2);
    let dst = bp + ((<usize>j * k) << 2);
    for (let p = 0; p < k; p++) {
      v128.store(dst, v128.load(src));
      v128.store(dst, v128.load(src, 16), 16);
      src += rowB;
      dst += 32;
    }
  }
}

// C[m, n] = A[m, k]·B[k, n] (+ C when accumulate), B given both as is (b) and packed (bp, see pack).
export function matMul(a: usize, b: usize, bp: usize, c: usize, m: i32, k: i32, n: i32, accumulate: bool): void {
  pack(b, bp, k, n);
  productPacked(a, b, bp, c, m, k, n, accumulate);
}

// The product itself: one panel of B at a time (it stays in L1 while every row of A passes), four rows of A per
// block, so that each vector of B loaded serves four rows and the eight accumulators stay in registers.
function productPacked(a: usize, b: usize, bp: usize, c: usize, m: i32, k: i32, n: i32, accumulate: bool): void {
  const n8 = n & ~7;
  const rowA = <usize>k << 2;
  const rowC = <usize>n << 2;
  for (let j = 0; j < n8; j += 8) {
    const panel = bp + ((<usize>j * k) << 2);
    let i = 0;
    for (; i + 4 <= m; i += 4) {
      const cj = c + <usize>i * rowC + (<usize>j << 2);
      let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s10 = f32x4.splat(0), s11 = f32x4.splat(0);
      let s20 = f32x4.splat(0), s21 = f32x4.splat(0), s30 = f32x4.splat(0), s31 = f32x4.splat(0);
      let pb = panel;
      let pa = a + <usize>i * rowA;
      const end = pa + rowA;
      while (pa < end) {
        const b0 = v128.load(pb);
        const b1 = v128.load(pb, 16);
        const x0 = v128.load32_splat(pa);
        const x1 = v128.load32_splat(pa + rowA);
        const x2 = v128.load32_splat(pa + 2 * rowA);
        const x3 = v128.load32_splat(pa + 3 * rowA);
        s00 = f32x4.add(s00, f32x4.mul(x0, b0));
        s01 = f32x4.add(s01, f32x4.mul(x0, b1));
        s10 = f32x4.add(s10, f32x4.mul(x1, b0));
        s11 = f32x4.add(s11, f32x4.mul(x1, b1));
        s20 = f32x4.add(s20, f32x4.mul(x2, b0));
        s21 = f32x4.add(s21, f32x4.mul(x2, b1));
        s30 = f32x4.add(s30, f32x4.mul(x3, b0));
        s31 = f32x4.add(s31, f32x4.mul(x3, b1));
        pb += 32;
        pa += 4;
      }
      if (accumulate) {
        s00 = f32x4.add(s00, v128.load(cj));
        s01 = f32x4.add(s01, v128.load(cj, 16));
        s10 = f32x4.add(s10, v128.load(cj + rowC));
        s11 = f32x4.add(s11, v128.load(cj + rowC, 16));
        s20 = f32x4.add(s20, v128.load(cj + 2 * rowC));
        s21 = f32x4.add(s21, v128.load(cj + 2 * rowC, 16));
        s30 = f32x4.add(s30, v128.load(cj + 3 * rowC));
        s31 = f32x4.add(s31, v128.load(cj + 3 * rowC, 16));
      }
      v128.store(cj, s00);
      v128.store(cj, s01, 16);
      v128.store(cj + rowC, s10);
      v128.store(cj + rowC, s11, 16);
      v128.store(cj + 2 * rowC, s20);
      v128.store(cj + 2 * rowC, s21, 16);
      v128.store(cj + 3 * rowC, s30);
      v128.store(cj + 3 * rowC, s31, 16);
    }
    for (; i < m; i++) {
      // Leftover rows, one at a time.
      const cj = c + <usize>i * rowC + (<usize>j << 2);
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
      let pb = panel;
      let pa = a + <usize>i * rowA;
      const end = pa + rowA;
      while (pa < end) {
        const x = v128.load32_splat(pa);
        s0 = f32x4.add(s0, f32x4.mul(x, v128.load(pb)));
        s1 = f32x4.add(s1, f32x4.mul(x, v128.load(pb, 16)));
        pb += 32;
        pa += 4;
      }
      if (accumulate) {
        s0 = f32x4.add(s0, v128.load(cj));
        s1 = f32x4.add(s1, v128.load(cj, 16));
      }
      v128.store(cj, s0);
      v128.store(cj, s1, 16);
    }
  }
  if (n8 < n) for (let r = 0; r < m; r++) matMulRowTail(a, b, c, r, k, n, n8, accumulate);
}

// Columns n8..n of row r of C, scalar.
function matMulRowTail(a: usize, b: usize, c: usize, r: i32, k: i32, n: i32, from: i32, accumulate: bool): void {
  for (let j = from; j < n; j++) {
    let s: f32 = accumulate ? load<f32>(c + ((<usize>r * n + j) << 2)) : 0;
    for (let p = 0; p < k; p++) s += load<f32>(a + ((<usize>r * k + p) << 2)) * load<f32>(b + ((<usize>p * n + j) << 2));
    store<f32>(c + ((<usize>r * n + j) << 2), s);
  }
}

// Forward over all steps from zero states. z [T, B, G] holds x·W + b on entry and the gate activations
// (i, f, g, o) on return; r is the recurrent kernel [U, G], rp room for it packed. Writes c [T, B, U], tanh(c) [T, B, U], h [T, B, U].
export function forward(
  t: i32, bRows: i32, u: i32, kind: i32, z: usize, r: usize, rp: usize, c: usize, tanhC: usize, h: usize,
): void {
  const g = 4 * u;
  pack(r, rp, u, g);
  const stepZ = <usize>bRows * g << 2;
  const stepU = <usize>bRows * u << 2;
  for (let s = 0; s < t; s++) {
    const zs = z + <usize>s * stepZ;
    if (s > 0) productPacked(h + <usize>(s - 1) * stepU, r, rp, zs, bRows, u, g, true);
    for (let row = 0; row < bRows; row++) {
      const zr = zs + (<usize>row * g << 2);
      const off = (<usize>s * bRows + row) * u;
      const prevOff = off - <usize>bRows * u;
      const u4 = u & ~3;
      for (let j = 0; j < u4; j += 4) {
        const pj = <usize>j << 2;
        const gi = gate4(v128.load(zr + pj), kind);
        const gf = gate4(v128.load(zr + pj + (<usize>u << 2)), kind);
        const gg = tanh4(v128.load(zr + pj + (<usize>(2 * u) << 2)));
        const go = gate4(v128.load(zr + pj + (<usize>(3 * u) << 2)), kind);
        const cPrev = s > 0 ? v128.load(c + ((prevOff + j) << 2)) : f32x4.splat(0);
        const cell = f32x4.add(f32x4.mul(gf, cPrev), f32x4.mul(gi, gg));
        const tc = tanh4(cell);
        v128.store(zr + pj, gi);
        v128.store(zr + pj + (<usize>u << 2), gf);
        v128.store(zr + pj + (<usize>(2 * u) << 2), gg);
        v128.store(zr + pj + (<usize>(3 * u) << 2), go);
        v128.store(c + ((off + j) << 2), cell);
        v128.store(tanhC + ((off + j) << 2), tc);
        v128.store(h + ((off + j) << 2), f32x4.mul(go, tc));
      }
      for (let j = u4; j < u; j++) {
        const pj = <usize>j << 2;
        const gi = gate(load<f32>(zr + pj), kind);
        const gf = gate(load<f32>(zr + pj + (<usize>u << 2)), kind);
        const gg = tanh(load<f32>(zr + pj + (<usize>(2 * u) << 2)));
        const go = gate(load<f32>(zr + pj + (<usize>(3 * u) << 2)), kind);
        const cPrev: f32 = s > 0 ? load<f32>(c + ((prevOff + j) << 2)) : 0;
        const cell = gf * cPrev + gi * gg;
        const tc = tanh(cell);
        store<f32>(zr + pj, gi);
        store<f32>(zr + pj + (<usize>u << 2), gf);
        store<f32>(zr + pj + (<usize>(2 * u) << 2), gg);
        store<f32>(zr + pj + (<usize>(3 * u) << 2), go);
        store<f32>(c + ((off + j) << 2), cell);
        store<f32>(tanhC + ((off + j) << 2), tc);
        store<f32>(h + ((off + j) << 2), go * tc);
      }
    }
  }
}

// Backward over all steps. act, c, tanhC as forward left them; rT is the recurrent kernel transposed [G, U], rTp
// room for it packed.
// dy is [T, B, U] when sequences, else [B, U] (the last step's output). Writes dz [T, B, G], the gradient of the
// gate pre-activations, from which the caller forms dW, dR, db and dx. dh, dc [B, U] are scratch.
export function backward(
  t: i32, bRows: i32, u: i32, kind: i32, sequences: bool,
  act: usize, c: usize, tanhC: usize, rT: usize, rTp: usize, dy: usize, dz: usize, dh: usize, dc: usize,
): void {
  const g = 4 * u;
  pack(rT, rTp, g, u);
  const n = bRows * u;
  memory.fill(dh, 0, <usize>n << 2);
  memory.fill(dc, 0, <usize>n << 2);
  for (let s = t - 1; s >= 0; s--) {
    for (let row = 0; row < bRows; row++) {
      const base = (<usize>s * bRows + row) * g;
      const off = (<usize>s * bRows + row) * u;
      for (let j = 0; j < u; j++) {
        const k = <usize>(row * u + j) << 2;
        let dhj = load<f32>(dh + k);
        if (sequences) dhj += load<f32>(dy + ((off + j) << 2));
        else if (s == t - 1) dhj += load<f32>(dy + k);
        const gi = load<f32>(act + ((base + j) << 2));
        const gf = load<f32>(act + ((base + u + j) << 2));
        const gg = load<f32>(act + ((base + 2 * u + j) << 2));
        const go = load<f32>(act + ((base + 3 * u + j) << 2));
        const tc = load<f32>(tanhC + ((off + j) << 2));
        const cPrev: f32 = s > 0 ? load<f32>(c + ((off - <usize>n + j) << 2)) : 0;
        const dcj = load<f32>(dc + k) + dhj * go * (1 - tc * tc);
        store<f32>(dz + ((base + j) << 2), dcj * gg * gateSlope(gi, kind));
        store<f32>(dz + ((base + u + j) << 2), dcj * cPrev * gateSlope(gf, kind));
        store<f32>(dz + ((base + 2 * u + j) << 2), dcj * gi * (1 - gg * gg));
        store<f32>(dz + ((base + 3 * u + j) << 2), dhj * tc * gateSlope(go, kind));
        store<f32>(dc + k, dcj * gf);
      }
    }
    if (s > 0) productPacked(dz + (<usize>s * bRows * g << 2), rT, rTp, dh, bRows, g, u, false);
  }
}

// Where the caller may start laying out its arrays.
export function heapBase(): usize {
  return (__heap_base + 15) & ~15;
}

// The product of packed B (see pack) with A, for callers that reuse one packing for several products.
export function matMulPacked(a: usize, b: usize, bp: usize, c: usize, m: i32, k: i32, n: i32, accumulate: bool): void {
  productPacked(a, b, bp, c, m, k, n, accumulate);
}

// dst [cols, rows] = src [rows, cols]ᵀ.
export function transpose(src: usize, dst: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      store<f32>(dst + ((<usize>c * rows + r) << 2), load<f32>(src + ((<usize>r * cols + c) << 2)));
    }
  }
}

// Every row of dst [rows, cols] set to row [cols] (the bias under x·W).
export function fillRows(dst: usize, row: usize, rows: i32, cols: i32): void {
  const bytes = <usize>cols << 2;
  for (let r = 0; r < rows; r++) memory.copy(dst + <usize>r * bytes, row, bytes);
}

// dst [cols] = the column sums of src [rows, cols].
export function columnSums(src: usize, dst: usize, rows: i32, cols: i32): void {
  memory.fill(dst, 0, <usize>cols << 2);
  for (let r = 0; r < rows; r++) {
    const from = src + ((<usize>r * cols) << 2);
    for (let c = 0; c < cols; c++) {
      store<f32>(dst + (<usize>c << 2), load<f32>(dst + (<usize>c << 2)) + load<f32>(from + (<usize>c << 2)));
    }
  }
}
