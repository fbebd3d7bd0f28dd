/**
 * The LSTM recurrence as two WebAssembly SIMD calls per layer and batch (forward, backward), from
 * `trainer/kernels/lstm.ts` (AssemblyScript, compiled by `npm run build:kernels` into `trainer/kernels/lstm.wasm`).
 *
 * Arrays are row-major float32, time-major: step t of a [T, B, n] array is rows t·B ... t·B + B - 1.
 * The module has one linear memory that every call lays out afresh from its heap base: the kernel keeps no state
 * between calls, so the forward state lives in the JS arrays returned here.
 */
import { readFileSync } from 'node:fs';

export const KERNEL_WASM = new URL('./kernels/lstm.wasm', import.meta.url);

export type GateKind = 'sigmoid' | 'hardSigmoid';
const GATE_CODES: Record<GateKind, number> = { sigmoid: 0, hardSigmoid: 1 };

// Node has WebAssembly; the project's TypeScript libraries (ES2023, no DOM) do not declare it.
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
};

type KernelExports = {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  heapBase(): number;
  matMul(
    a: number,
    b: number,
    bp: number,
    c: number,
    m: number,
    k: number,
    n: number,
    accumulate: number,
  ): void;
  forward(
    t: number,
    b: number,
    u: number,
    kind: number,
    z: number,
    r: number,
    rp: number,
    c: number,
    tanhC: number,
    h: number,
  ): void;
  pack(b: number, bp: number, k: number, n: number): void;
  matMulPacked(
    a: number,
    b: number,
    bp: number,
    c: number,
    m: number,
    k: number,
    n: number,
    accumulate: number,
  ): void;
  transpose(src: number, dst: number, rows: number, cols: number): void;
  fillRows(dst: number, row: number, rows: number, cols: number): void;
  columnSums(src: number, dst: number, rows: number, cols: number): void;
  backward(
    t: number,
    b: number,
    u: number,
    kind: number,
    sequences: number,
    act: number,
    c: number,
    tanhC: number,
    rT: number,
    rTp: number,
    dy: number,
    dz: number,
    dh: number,
    dc: number,
  ): void;
};

let loaded: KernelExports | undefined;

function kernel(): KernelExports {
  // Synchronous: Node compiles a module of this size at once, and the trainer's layers call this synchronously.
  loaded ??= new WebAssembly.Instance(new WebAssembly.Module(readFileSync(KERNEL_WASM)), {})
    .exports as unknown as KernelExports;
  return loaded;
}

/**
 * Places arrays one after the other (16-byte aligned) in the module's memory, growing it when needed, and gives
 * each one's byte offset; `view` reads or writes one of them.
 */
function layout(sizes: number[]): { offsets: number[]; view: (i: number) => Float32Array } {
  const k = kernel();
  const offsets: number[] = [];
  let end = k.heapBase();
  for (const size of sizes) {
    offsets.push(end);
    end += Math.ceil((size * 4) / 16) * 16;
  }
  const missing = end - k.memory.buffer.byteLength;
  if (missing > 0) k.memory.grow(Math.ceil(missing / 65536));
  return { offsets, view: (i) => new Float32Array(k.memory.buffer, offsets[i]!, sizes[i]!) };
}

/** The sizes of one LSTM layer's batch: T steps, B rows, `inputs` features in, U units. */
export type LstmShape = { steps: number; batch: number; inputs: number; units: number };

/** What the forward pass leaves for the backward one: its inputs, gate activations [T·B, 4U] (i, f, g, o), c, tanh(c), h. */
export type LstmState = LstmShape & {
  gate: GateKind;
  x: Float32Array;
  kernel: Float32Array;
  recurrent: Float32Array;
  act: Float32Array;
  c: Float32Array;
  tanhC: Float32Array;
  h: Float32Array;
};

/** The gradients of one layer's batch: dx time-major [T·B, in], and those of kernel, recurrent kernel and bias. */
export type LstmGradients = {
  dx: Float32Array;
  dKernel: Float32Array;
  dRecurrent: Float32Array;
  dBias: Float32Array;
};

/** C [m, n] = A [m, k]·B [k, n], by the kernel's own product (exported for its tests and benchmarks). */
export function kernelMatMul(
  a: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
): Float32Array {
  const mem = layout([m * k, k * n, k * n, m * n]);
  mem.view(0).set(a);
  mem.view(1).set(b);
  const [aAt, bAt, packedAt, cAt] = mem.offsets as [number, number, number, number];
  kernel().matMul(aAt, bAt, packedAt, cAt, m, k, n, 0);
  return mem.view(3).slice();
}

function checkLength(what: string, array: Float32Array, expected: number): void {
  if (array.length !== expected)
    throw new Error(`LSTM kernel: ${what} has ${array.length} values, expected ${expected}`);
}

/**
 * One LSTM layer over all steps from zero states: x [T·B, in] time-major, kernel [in, 4U], bias [4U], recurrent
 * kernel [U, 4U]. The input projection x·W + b is one product; then the recurrence.
 */
export function lstmLayerForward(
  x: Float32Array,
  weights: { kernel: Float32Array; bias: Float32Array; recurrent: Float32Array },
  shape: LstmShape,
  gate: GateKind,
): LstmState {
  const { steps, batch, inputs, units } = shape;
  const g = 4 * units;
  const rows = steps * batch;
  const n = rows * units;
  checkLength('x', x, rows * inputs);
  checkLength('the kernel', weights.kernel, inputs * g);
  checkLength('the bias', weights.bias, g);
  checkLength('the recurrent kernel', weights.recurrent, units * g);
  const mem = layout([rows * inputs, inputs * g, inputs * g, g, rows * g, units * g, units * g, n, n, n]);
  const [xAt, w, wp, b, z, r, rp, c, tanhC, h] = mem.offsets as number[] as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  mem.view(0).set(x);
  mem.view(1).set(weights.kernel);
  mem.view(3).set(weights.bias);
  mem.view(5).set(weights.recurrent);
  const k = kernel();
  k.fillRows(z, b, rows, g);
  k.matMul(xAt, w, wp, z, rows, inputs, g, 1);
  k.forward(steps, batch, units, GATE_CODES[gate], z, r, rp, c, tanhC, h);
  return {
    ...shape,
    gate,
    x,
    kernel: weights.kernel,
    recurrent: weights.recurrent,
    act: mem.view(4).slice(),
    c: mem.view(7).slice(),
    tanhC: mem.view(8).slice(),
    h: mem.view(9).slice(),
  };
}

/**
 * The gradients of one layer's batch from the forward state and dy: [T·B, U] time-major for every step's output,
 * or [B, U] for the last step's only. The recurrence gives dz [T·B, 4U]; then dR = h(t-1)ᵀ·dz, dW = xᵀ·dz,
 * dx = dz·Wᵀ and db = Σ dz, each one product over all steps.
 */
export function lstmLayerBackward(state: LstmState, dy: Float32Array): LstmGradients {
  const { steps, batch, inputs, units } = state;
  const g = 4 * units;
  const rows = steps * batch;
  const n = rows * units;
  const sequences = dy.length === n;
  if (!sequences) checkLength('dy', dy, batch * units);
  const sizes = {
    act: rows * g,
    c: n,
    tanhC: n,
    recurrent: units * g,
    rT: units * g,
    rTp: units * g,
    dy: dy.length,
    dz: rows * g,
    dzp: rows * g,
    dh: batch * units,
    dc: batch * units,
    hPrev: n,
    hPrevT: n,
    x: rows * inputs,
    xT: rows * inputs,
    w: inputs * g,
    wT: inputs * g,
    wTp: inputs * g,
    dR: units * g,
    dW: inputs * g,
    dx: rows * inputs,
    db: g,
  };
  const names = Object.keys(sizes) as (keyof typeof sizes)[];
  const mem = layout(names.map((name) => sizes[name]));
  const at = Object.fromEntries(names.map((name, i) => [name, mem.offsets[i]!])) as Record<
    keyof typeof sizes,
    number
  >;
  const view = (name: keyof typeof sizes) => mem.view(names.indexOf(name));
  view('act').set(state.act);
  view('c').set(state.c);
  view('tanhC').set(state.tanhC);
  view('recurrent').set(state.recurrent);
  view('dy').set(dy);
  // h(t-1) of every step: zeros, then h of steps 0 ... T-2.
  const hPrev = view('hPrev');
  hPrev.fill(0, 0, batch * units);
  hPrev.set(state.h.subarray(0, n - batch * units), batch * units);
  view('x').set(state.x);
  view('w').set(state.kernel);
  const k = kernel();
  k.transpose(at.recurrent, at.rT, units, g);
  k.backward(
    steps,
    batch,
    units,
    GATE_CODES[state.gate],
    sequences ? 1 : 0,
    at.act,
    at.c,
    at.tanhC,
    at.rT,
    at.rTp,
    at.dy,
    at.dz,
    at.dh,
    at.dc,
  );
  k.pack(at.dz, at.dzp, rows, g);
  k.transpose(at.hPrev, at.hPrevT, rows, units);
  k.matMulPacked(at.hPrevT, at.dz, at.dzp, at.dR, units, rows, g, 0);
  k.transpose(at.x, at.xT, rows, inputs);
  k.matMulPacked(at.xT, at.dz, at.dzp, at.dW, inputs, rows, g, 0);
  k.transpose(at.w, at.wT, inputs, g);
  k.matMul(at.dz, at.wT, at.wTp, at.dx, rows, g, inputs, 0);
  k.columnSums(at.dz, at.db, rows, g);
  return {
    dx: view('dx').slice(),
    dKernel: view('dW').slice(),
    dRecurrent: view('dR').slice(),
    dBias: view('db').slice(),
  };
}
