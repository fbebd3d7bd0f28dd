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

/** What the forward pass leaves for the backward one: gate activations [T, B, 4U] (i, f, g, o), c, tanh(c), h. */
export type LstmState = {
  steps: number;
  batch: number;
  units: number;
  gate: GateKind;
  act: Float32Array;
  c: Float32Array;
  tanhC: Float32Array;
  h: Float32Array;
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

/**
 * Runs the LSTM over all steps from zero states. `projected` [T, B, 4U] is x·W + b of every step, `recurrent` the
 * recurrent kernel [U, 4U].
 */
export function lstmForward(
  projected: Float32Array,
  recurrent: Float32Array,
  shape: { steps: number; batch: number; units: number },
  gate: GateKind,
): LstmState {
  const { steps, batch, units } = shape;
  const g = 4 * units;
  const n = steps * batch * units;
  if (projected.length !== steps * batch * g || recurrent.length !== units * g) {
    throw new Error(
      `lstmForward: ${projected.length} projected and ${recurrent.length} recurrent values for T=${steps} B=${batch} U=${units}`,
    );
  }
  const mem = layout([steps * batch * g, units * g, units * g, n, n, n]);
  mem.view(0).set(projected);
  mem.view(1).set(recurrent);
  const [z, r, rp, c, tanhC, h] = mem.offsets as [number, number, number, number, number, number];
  kernel().forward(steps, batch, units, GATE_CODES[gate], z, r, rp, c, tanhC, h);
  return {
    ...shape,
    gate,
    act: mem.view(0).slice(),
    c: mem.view(3).slice(),
    tanhC: mem.view(4).slice(),
    h: mem.view(5).slice(),
  };
}

/**
 * The gradient dz [T, B, 4U] of the gate pre-activations of every step, given the forward state, the recurrent
 * kernel [U, 4U] it ran with, and dy: [T, B, U] for every step's output, or [B, U] for the last step's only.
 */
export function lstmBackward(state: LstmState, recurrent: Float32Array, dy: Float32Array): Float32Array {
  const { steps, batch, units } = state;
  const g = 4 * units;
  const n = steps * batch * units;
  const sequences = dy.length === n;
  if (!sequences && dy.length !== batch * units) {
    throw new Error(`lstmBackward: dy has ${dy.length} values, expected ${n} or ${batch * units}`);
  }
  const mem = layout([n * 4, n, n, units * g, units * g, dy.length, n * 4, batch * units, batch * units]);
  mem.view(0).set(state.act);
  mem.view(1).set(state.c);
  mem.view(2).set(state.tanhC);
  const rT = mem.view(3);
  for (let i = 0; i < units; i++) {
    for (let j = 0; j < g; j++) rT[j * units + i] = recurrent[i * g + j]!;
  }
  mem.view(5).set(dy);
  const [act, c, tanhC, rTOffset, rTPacked, dyOffset, dz, dh, dc] = mem.offsets as [
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
  kernel().backward(
    steps,
    batch,
    units,
    GATE_CODES[state.gate],
    sequences ? 1 : 0,
    act,
    c,
    tanhC,
    rTOffset,
    rTPacked,
    dyOffset,
    dz,
    dh,
    dc,
  );
  return mem.view(6).slice();
}
