// AssemblyScript, compiled to trainer/engine/kernels/lstm.wasm by `npm run build:kernels` (WebAssembly SIMD, threads).
//
// One LSTM layer's whole forward pass (x·W + b for all steps as one product, then the recurrence) and backward pass
// (the recurrence, then the dR, dW, dx, db products) for a batch, on one or more threads that share the imported
// memory. trainer/engine/lstm.ts lays the arrays out and writes the job into the control block; every thread then
// calls run(tid) with the same job. Every pointer is a byte offset of a row-major f32 array. Shapes: T steps,
// B batch rows, U units, G = 4U, gate order i, f, c (g), o as in tfjs and Keras.
//
// Built twice (lstm.asconfig.json): `release` with plain SIMD, `relaxed` with relaxed SIMD, whose multiply-add is
// one fused instruction where the CPU has one (measured 5-10% faster per layer, bench/RESULTS.md); the loader takes
// the relaxed build where WebAssembly.validate accepts it. The two differ in rounding, never in the maths.
//
// Results do not depend on the thread count: work is split by output element (each thread owns whole rows or
// columns of every product, and in the recurrence the units of a range), and every element is computed by the
// same float operations whichever thread computes it. Products sum over k in order from 0, then add C (see
// productRange); the scalar gate functions are the SIMD ones lane for lane.

const SIGMOID: i32 = 0;
const HARD_SIGMOID: i32 = 1;

// The control block, at the start of the heap (trainer/engine/lstm.ts mirrors these offsets): the barrier's arrival
// count and release generation on cache lines of their own, one mailbox per worker (the JS side bumps it to hand a
// worker the job), a failure flag, then the job: op, thread count, arguments.
const CONTROL_BYTES: usize = 512;
const ARRIVED: usize = 0;
const RELEASE: usize = 64;
const FAILED: usize = 192;
const JOB: usize = 256;
const OP_FORWARD: i32 = 1;
const OP_BACKWARD: i32 = 2;
// A barrier spins this many loads (about 0.2 ms) before it sleeps. Threads of one call arrive within that when each
// has a core; a shorter spin (20,000) let one thread's sleep delay the next barrier past the other's spin, so that
// both slept at every step after a late start: U=256's forward on 2 threads took 13.5 ms instead of 10.6.
const BARRIER_SPINS: i32 = 200000;

/** a·b + c: fused (one rounding) in the relaxed build, a product then a sum in the plain one. */
@inline
function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

@inline
function control(): usize {
  return (__heap_base + 63) & ~63;
}

// Where the caller may start laying out its arrays.
export function heapBase(): usize {
  return control() + CONTROL_BYTES;
}

// Waits until all `threads` threads of the job have arrived. The last to arrive resets the count and bumps the
// release generation; the others spin on it, then sleep.
function barrier(threads: i32): void {
  if (threads == 1) return;
  const ctl = control();
  const generation = atomic.load<i32>(ctl + RELEASE);
  if (atomic.add<i32>(ctl + ARRIVED, 1) == threads - 1) {
    atomic.store<i32>(ctl + ARRIVED, 0);
    atomic.add<i32>(ctl + RELEASE, 1);
    atomic.notify(ctl + RELEASE, -1);
    return;
  }
  for (let i = 0; i < BARRIER_SPINS; i++) if (atomic.load<i32>(ctl + RELEASE) != generation) return;
  while (atomic.load<i32>(ctl + RELEASE) == generation && atomic.load<i32>(ctl + FAILED) == 0) {
    atomic.wait<i32>(ctl + RELEASE, generation, -1);
  }
}

@inline
function arg(i: i32): i32 {
  return load<i32>(control() + JOB + 8 + (<usize>i << 2));
}

// Runs the job in the control block as thread `tid` of its thread count.
export function run(tid: i32): void {
  const ctl = control();
  const op = load<i32>(ctl + JOB);
  const threads = load<i32>(ctl + JOB + 4);
  if (op == OP_FORWARD) {
    forwardLayer(tid, threads, arg(0), arg(1), arg(2), arg(3), arg(4), arg(5), arg(6), arg(7), arg(8), arg(9),
      arg(10), arg(11), arg(12), arg(13), arg(14));
  } else if (op == OP_BACKWARD) {
    backwardLayer(tid, threads, arg(0), arg(1), arg(2), arg(3), arg(4), arg(5) != 0, arg(6), arg(7), arg(8), arg(9),
      arg(10), arg(11), arg(12), arg(13), arg(14), arg(15), arg(16), arg(17), arg(18), arg(19), arg(20), arg(21),
      arg(22), arg(23), arg(24), arg(25), arg(26), arg(27));
  }
  barrier(threads);
}

// The units a thread owns: blocks of eight (whole SIMD panels) shared out in order.
@inline
function unitsFrom(u: i32, tid: i32, threads: i32): i32 {
  return min(((((u + 7) >> 3) * tid) / threads) << 3, u);
}

// The rows of `rows` a thread owns.
@inline
function rowsFrom(rows: i32, tid: i32, threads: i32): i32 {
  return <i32>((<i64>rows * tid) / threads);
}

// tanh for four lanes: Eigen's rational approximation (TensorFlow's CPU tanh), an odd polynomial of degree 13 over
// an even one of degree 6, on x clamped to ±7.9053 (where tanh rounds to 1 in float). Written rather than through
// e^x for speed: 9 multiply-adds, 2 products and a division against e^x's 25 operations (the gates were a quarter
// of a forward pass). Largest error against Math.tanh 3.3e-7, near the clamp (test/unit/engine/lstm.test.ts).
@inline
function tanh4(x: v128): v128 {
  x = f32x4.min(f32x4.max(x, f32x4.splat(-7.90531110763549805)), f32x4.splat(7.90531110763549805));
  const x2 = f32x4.mul(x, x);
  let p = madd(x2, f32x4.splat(-2.76076847742355e-16), f32x4.splat(2.00018790482477e-13));
  p = madd(p, x2, f32x4.splat(-8.60467152213735e-11));
  p = madd(p, x2, f32x4.splat(5.12229709037114e-8));
  p = madd(p, x2, f32x4.splat(1.48572235717979e-5));
  p = madd(p, x2, f32x4.splat(6.37261928875436e-4));
  p = madd(p, x2, f32x4.splat(4.89352455891786e-3));
  let q = madd(x2, f32x4.splat(1.19825839466702e-6), f32x4.splat(1.18534705686654e-4));
  q = madd(q, x2, f32x4.splat(2.268434632439e-3));
  q = madd(q, x2, f32x4.splat(4.89352518554385e-3));
  return f32x4.div(f32x4.mul(p, x), q);
}

@inline
function gate4(x: v128, kind: i32): v128 {
  if (kind == HARD_SIGMOID) {
    return f32x4.min(f32x4.max(f32x4.add(f32x4.mul(x, f32x4.splat(0.2)), f32x4.splat(0.5)), f32x4.splat(0)), f32x4.splat(1));
  }
  // σ(x) = (1 + tanh(x/2)) / 2.
  return madd(tanh4(f32x4.mul(x, f32x4.splat(0.5))), f32x4.splat(0.5), f32x4.splat(0.5));
}

// The scalar gate functions are lane 0 of the SIMD ones: a unit past the last four gets the value a lane would.
@inline
function gate(x: f32, kind: i32): f32 {
  return f32x4.extract_lane(gate4(f32x4.splat(x), kind), 0);
}

@inline
function tanh(x: f32): f32 {
  return f32x4.extract_lane(tanh4(f32x4.splat(x)), 0);
}

// d gate / d x, from the gate's output a.
@inline
function gateSlope(a: f32, kind: i32): f32 {
  if (kind == HARD_SIGMOID) return a > 0 && a < 1 ? <f32>0.2 : <f32>0;
  return a * (1 - a);
}

// gateSlope for four lanes.
@inline
function gateSlope4(a: v128, kind: i32): v128 {
  if (kind == HARD_SIGMOID) {
    return v128.and(v128.and(f32x4.gt(a, f32x4.splat(0)), f32x4.lt(a, f32x4.splat(1))), f32x4.splat(0.2));
  }
  return f32x4.mul(a, f32x4.sub(f32x4.splat(1), a));
}

// Packs rows p0..p1 of the eight-column panels of columns j0..j1 of B [k, n] (the panel of columns jj..jj+7 is a
// contiguous [k, 8] block at bp + jj·k floats), so that a product streams B in order. Columns past the last whole
// panel are not packed (productRange reads them from B).
function packRange(b: usize, bp: usize, k: i32, n: i32, j0: i32, j1: i32, p0: i32, p1: i32): void {
  const rowB = <usize>n << 2;
  for (let j = j0; j + 8 <= j1; j += 8) {
    let src = b + ((<usize>p0 * n + j) << 2);
    let dst = bp + ((<usize>j * k + <usize>p0 * 8) << 2);
    for (let p = p0; p < p1; p++) {
      v128.store(dst, v128.load(src));
      v128.store(dst, v128.load(src, 16), 16);
      src += rowB;
      dst += 32;
    }
  }
}

// C[m, j0..j1] = A[m, k]·B[k, j0..j1] (+ C when accumulate); B [k, n] given both as is (b) and packed (bp, see
// packRange), C [m, n]. Each element is (((0 + a0·b0) + a1·b1) + ...) (+ C), in every path below.
// One panel of B at a time (it stays in L1 while every row of A passes), six rows of A per block, so that each
// vector of B loaded serves six rows and the twelve accumulators stay in registers (x64's 16 vector registers, one
// kept by V8: 12 + 2 of B + 1 of A; measured 64 GFLOP/s on one core, the core's fused multiply-add peak, against 55
// for four rows).
function productRange(a: usize, b: usize, bp: usize, c: usize, m: i32, k: i32, n: i32, j0: i32, j1: i32, accumulate: bool): void {
  const rowA = <usize>k << 2;
  const rowC = <usize>n << 2;
  // Rows in blocks of six, then of four: 8 or 9 rows past the sixes go as 4 + 4 (+ 1), not 6 + 1 + 1 (+ 1), since a
  // single row runs at a quarter of the speed (16 = 6 + 6 + 4, 32 = 4·6 + 2·4).
  const rest = m % 6;
  const sixes = m - rest - ((rest == 2 || rest == 3) && m >= 8 ? 6 : 0);
  let j = j0;
  for (; j + 8 <= j1; j += 8) {
    const panel = bp + ((<usize>j * k) << 2);
    let i = 0;
    for (; i < sixes; i += 6) {
      const cj = c + <usize>i * rowC + (<usize>j << 2);
      let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s10 = f32x4.splat(0), s11 = f32x4.splat(0);
      let s20 = f32x4.splat(0), s21 = f32x4.splat(0), s30 = f32x4.splat(0), s31 = f32x4.splat(0);
      let s40 = f32x4.splat(0), s41 = f32x4.splat(0), s50 = f32x4.splat(0), s51 = f32x4.splat(0);
      let pb = panel;
      let pa = a + <usize>i * rowA;
      const end = pa + rowA;
      while (pa < end) {
        const b0 = v128.load(pb);
        const b1 = v128.load(pb, 16);
        let x = v128.load32_splat(pa);
        s00 = madd(x, b0, s00);
        s01 = madd(x, b1, s01);
        x = v128.load32_splat(pa + rowA);
        s10 = madd(x, b0, s10);
        s11 = madd(x, b1, s11);
        x = v128.load32_splat(pa + 2 * rowA);
        s20 = madd(x, b0, s20);
        s21 = madd(x, b1, s21);
        x = v128.load32_splat(pa + 3 * rowA);
        s30 = madd(x, b0, s30);
        s31 = madd(x, b1, s31);
        x = v128.load32_splat(pa + 4 * rowA);
        s40 = madd(x, b0, s40);
        s41 = madd(x, b1, s41);
        x = v128.load32_splat(pa + 5 * rowA);
        s50 = madd(x, b0, s50);
        s51 = madd(x, b1, s51);
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
        s40 = f32x4.add(s40, v128.load(cj + 4 * rowC));
        s41 = f32x4.add(s41, v128.load(cj + 4 * rowC, 16));
        s50 = f32x4.add(s50, v128.load(cj + 5 * rowC));
        s51 = f32x4.add(s51, v128.load(cj + 5 * rowC, 16));
      }
      v128.store(cj, s00);
      v128.store(cj, s01, 16);
      v128.store(cj + rowC, s10);
      v128.store(cj + rowC, s11, 16);
      v128.store(cj + 2 * rowC, s20);
      v128.store(cj + 2 * rowC, s21, 16);
      v128.store(cj + 3 * rowC, s30);
      v128.store(cj + 3 * rowC, s31, 16);
      v128.store(cj + 4 * rowC, s40);
      v128.store(cj + 4 * rowC, s41, 16);
      v128.store(cj + 5 * rowC, s50);
      v128.store(cj + 5 * rowC, s51, 16);
    }
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
        s00 = madd(x0, b0, s00);
        s01 = madd(x0, b1, s01);
        s10 = madd(x1, b0, s10);
        s11 = madd(x1, b1, s11);
        s20 = madd(x2, b0, s20);
        s21 = madd(x2, b1, s21);
        s30 = madd(x3, b0, s30);
        s31 = madd(x3, b1, s31);
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
        s0 = madd(x, v128.load(pb), s0);
        s1 = madd(x, v128.load(pb, 16), s1);
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
  // Columns past the last whole panel, scalar.
  for (; j < j1; j++) {
    for (let r = 0; r < m; r++) {
      let s: f32 = 0;
      for (let p = 0; p < k; p++) s += load<f32>(a + ((<usize>r * k + p) << 2)) * load<f32>(b + ((<usize>p * n + j) << 2));
      const at = c + ((<usize>r * n + j) << 2);
      store<f32>(at, accumulate ? s + load<f32>(at) : s);
    }
  }
}

// Rows 0..rows-1 of z [rows, g], columns j0..j1, set to the bias. A loop rather than memory.copy per row: on shared
// memory each memory.copy is a call out of the compiled code, and there are T·B·4 of them per forward pass.
function copyBias(z: usize, bias: usize, rows: i32, g: i32, j0: i32, j1: i32): void {
  for (let row = 0; row < rows; row++) {
    const to = z + ((<usize>row * g) << 2);
    let j = j0;
    for (; j + 4 <= j1; j += 4) v128.store(to + (<usize>j << 2), v128.load(bias + (<usize>j << 2)));
    for (; j < j1; j++) store<f32>(to + (<usize>j << 2), load<f32>(bias + (<usize>j << 2)));
  }
}

// C [m, n] = A [m, k]·B [k, n] on one thread, bp room for B packed (for the tests and benchmarks of the product).
export function matMul(a: usize, b: usize, bp: usize, c: usize, m: i32, k: i32, n: i32): void {
  packRange(b, bp, k, n, 0, n, 0, k);
  productRange(a, b, bp, c, m, k, n, 0, n, false);
}

// Forward over all steps from zero states, units u0..u1 of its thread. z [T·B, G] receives x·W + b, then the gate
// activations (i, f, g, o); w [in, G] and r [U, G] are packed into wp and rp. Writes c, tanh(c), h [T·B, U].
function forwardLayer(
  tid: i32, threads: i32, t: i32, bRows: i32, inputs: i32, u: i32, kind: i32,
  x: usize, w: usize, wp: usize, bias: usize, z: usize, r: usize, rp: usize, c: usize, tanhC: usize, h: usize,
): void {
  const g = 4 * u;
  const rows = t * bRows;
  const u0 = unitsFrom(u, tid, threads);
  const u1 = unitsFrom(u, tid + 1, threads);
  for (let q = 0; q < 4; q++) {
    const j0 = q * u + u0;
    const j1 = q * u + u1;
    copyBias(z, bias, rows, g, j0, j1);
    packRange(w, wp, inputs, g, j0, j1, 0, inputs);
    productRange(x, w, wp, z, rows, inputs, g, j0, j1, true);
    packRange(r, rp, u, g, j0, j1, 0, u);
  }
  const stepZ = <usize>bRows * g << 2;
  const stepU = <usize>bRows * u << 2;
  for (let s = 0; s < t; s++) {
    const zs = z + <usize>s * stepZ;
    if (s > 0) {
      // h of the previous step, all units, is complete.
      barrier(threads);
      for (let q = 0; q < 4; q++) productRange(h + <usize>(s - 1) * stepU, r, rp, zs, bRows, u, g, q * u + u0, q * u + u1, true);
    }
    for (let row = 0; row < bRows; row++) {
      const zr = zs + (<usize>row * g << 2);
      const off = (<usize>s * bRows + row) * u;
      const prevOff = off - <usize>bRows * u;
      let j = u0;
      for (; j + 4 <= u1; j += 4) {
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
      for (; j < u1; j++) {
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

// dst [cols, rows] = src [rows, cols]ᵀ, source rows r0..r1 only.
function transposeRows(src: usize, dst: usize, rows: i32, cols: i32, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    for (let c = 0; c < cols; c++) {
      store<f32>(dst + ((<usize>c * rows + r) << 2), load<f32>(src + ((<usize>r * cols + c) << 2)));
    }
  }
}

// Backward over all steps, from what forward left (act, c, tanh(c)) and dy: [T·B, U] when sequences, else [B, U]
// (the last step's output). The recurrence gives dz [T·B, G], the gradient of the gate pre-activations; then
// dR = h(t-1)ᵀ·dz [U, G], dW = xᵀ·dz [in, G], dx = dz·Wᵀ [T·B, in] (unless dx is 0), db = Σ dz [G]. hPrev [T·B, U]
// is h(t-1) of every step; rT, rTp, wT, wTp, hPrevT, xT, dzp are room for transposed and packed copies; dh, dc [B, U]
// are scratch.
function backwardLayer(
  tid: i32, threads: i32, t: i32, bRows: i32, inputs: i32, u: i32, kind: i32, sequences: bool,
  act: usize, c: usize, tanhC: usize, r: usize, rT: usize, rTp: usize, dy: usize, dz: usize, dzp: usize,
  dh: usize, dc: usize, hPrev: usize, hPrevT: usize, x: usize, xT: usize, w: usize, wT: usize, wTp: usize,
  dR: usize, dW: usize, dx: usize, db: usize,
): void {
  const g = 4 * u;
  const rows = t * bRows;
  const n = bRows * u;
  const u0 = unitsFrom(u, tid, threads);
  const u1 = unitsFrom(u, tid + 1, threads);
  const r0 = rowsFrom(rows, tid, threads);
  const r1 = rowsFrom(rows, tid + 1, threads);
  // This thread's columns of Rᵀ (its units), packed for its dh product; its rows of Wᵀ (its gate columns of W),
  // packed for everyone's dx product; its rows of h(t-1)ᵀ and xᵀ.
  transposeRows(r, rT, u, g, u0, u1);
  packRange(rT, rTp, g, u, u0, u1, 0, g);
  // dx = 0: the caller has no use for the input's gradient (the first layer's input is data).
  if (dx != 0) {
    for (let q = 0; q < 4; q++) {
      const j0 = q * u + u0;
      const j1 = q * u + u1;
      for (let j = j0; j < j1; j++) {
        for (let i = 0; i < inputs; i++) store<f32>(wT + ((<usize>j * inputs + i) << 2), load<f32>(w + ((<usize>i * g + j) << 2)));
      }
      packRange(wT, wTp, g, inputs, 0, inputs, j0, j1);
    }
  }
  transposeRows(hPrev, hPrevT, rows, u, r0, r1);
  transposeRows(x, xT, rows, inputs, r0, r1);
  for (let row = 0; row < bRows; row++) {
    memory.fill(dh + ((<usize>row * u + u0) << 2), 0, <usize>(u1 - u0) << 2);
    memory.fill(dc + ((<usize>row * u + u0) << 2), 0, <usize>(u1 - u0) << 2);
  }
  for (let s = t - 1; s >= 0; s--) {
    for (let row = 0; row < bRows; row++) {
      const base = (<usize>s * bRows + row) * g;
      const off = (<usize>s * bRows + row) * u;
      let j = u0;
      for (; j + 4 <= u1; j += 4) {
        // The scalar loop below, four units at a time, operation for operation.
        const k = <usize>(row * u + j) << 2;
        let dhj = v128.load(dh + k);
        if (sequences) dhj = f32x4.add(dhj, v128.load(dy + ((off + j) << 2)));
        else if (s == t - 1) dhj = f32x4.add(dhj, v128.load(dy + k));
        const gi = v128.load(act + ((base + j) << 2));
        const gf = v128.load(act + ((base + u + j) << 2));
        const gg = v128.load(act + ((base + 2 * u + j) << 2));
        const go = v128.load(act + ((base + 3 * u + j) << 2));
        const tc = v128.load(tanhC + ((off + j) << 2));
        const cPrev = s > 0 ? v128.load(c + ((off - <usize>n + j) << 2)) : f32x4.splat(0);
        const one = f32x4.splat(1);
        const dcj = f32x4.add(v128.load(dc + k), f32x4.mul(f32x4.mul(dhj, go), f32x4.sub(one, f32x4.mul(tc, tc))));
        v128.store(dz + ((base + j) << 2), f32x4.mul(f32x4.mul(dcj, gg), gateSlope4(gi, kind)));
        v128.store(dz + ((base + u + j) << 2), f32x4.mul(f32x4.mul(dcj, cPrev), gateSlope4(gf, kind)));
        v128.store(dz + ((base + 2 * u + j) << 2), f32x4.mul(f32x4.mul(dcj, gi), f32x4.sub(one, f32x4.mul(gg, gg))));
        v128.store(dz + ((base + 3 * u + j) << 2), f32x4.mul(f32x4.mul(dhj, tc), gateSlope4(go, kind)));
        v128.store(dc + k, f32x4.mul(dcj, gf));
      }
      for (; j < u1; j++) {
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
    if (s > 0) {
      // dz of this step, all units, is complete.
      barrier(threads);
      productRange(dz + (<usize>s * bRows * g << 2), rT, rTp, dh, bRows, g, u, u0, u1, false);
    }
  }
  // All of dz, Wᵀ, h(t-1)ᵀ and xᵀ are complete.
  barrier(threads);
  for (let q = 0; q < 4; q++) {
    const j0 = q * u + u0;
    const j1 = q * u + u1;
    packRange(dz, dzp, rows, g, j0, j1, 0, rows);
    productRange(hPrevT, dz, dzp, dR, u, rows, g, j0, j1, false);
    productRange(xT, dz, dzp, dW, inputs, rows, g, j0, j1, false);
    // Row by row, in memory order (a column at a time strides G floats per load).
    memory.fill(db + (<usize>j0 << 2), 0, <usize>(j1 - j0) << 2);
    for (let row = 0; row < rows; row++) {
      const from = dz + ((<usize>row * g) << 2);
      let j = j0;
      for (; j + 4 <= j1; j += 4) {
        const at = db + (<usize>j << 2);
        v128.store(at, f32x4.add(v128.load(at), v128.load(from + (<usize>j << 2))));
      }
      for (; j < j1; j++) store<f32>(db + (<usize>j << 2), load<f32>(db + (<usize>j << 2)) + load<f32>(from + (<usize>j << 2)));
    }
  }
  if (dx != 0) productRange(dz + ((<usize>r0 * g) << 2), wT, wTp, dx + ((<usize>r0 * inputs) << 2), r1 - r0, g, inputs, 0, inputs, false);
}
