/**
 * One LSTM layer's forward and backward passes as one WebAssembly SIMD call each per batch, on one thread or several,
 * from `trainer/engine/kernels/lstm.ts` (AssemblyScript, compiled by `npm run build:kernels` into
 * `trainer/engine/kernels/lstm.wasm`).
 *
 * Arrays are row-major float32, time-major: step t of a [T, B, n] array is rows t·B ... t·B + B - 1.
 * The module's memory is shared by the threads of the kernel (this one and up to MAX_THREADS - 1 workers, started
 * on the first call that uses them). A training forward pass leaves its state (inputs, weights, gate activations,
 * c, tanh(c), h) where the kernel wrote it, on a stack of live states from the heap base, and the backward pass
 * reads it there: copying it out to JS and back in cost 5-8 ms of a config_2 batch (issue 24). Every call's scratch
 * is laid out afresh above the stack. Results do not depend on the thread count (see the top of the AssemblyScript
 * source).
 */
import { readFileSync } from 'node:fs';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { CONTROL_BYTES, FAILED, JOB, MAILBOX } from './lstm-control.ts';
import type { LstmWorkerData } from './lstm-worker.ts';
import { layoutFloats, WASM_PAGE, type WasmMemory, wasm } from './wasm-memory.ts';

export const KERNEL_WASM = new URL('./kernels/lstm.wasm', import.meta.url);
/** The same kernel built with relaxed SIMD (a fused multiply-add), taken where this runtime validates it. */
export const RELAXED_KERNEL_WASM = new URL('./kernels/lstm-relaxed.wasm', import.meta.url);

/** Which build of the kernel this runtime runs: relaxed SIMD where it validates, plain SIMD otherwise. */
export function kernelBinary(validate: (bytes: Uint8Array) => boolean = (b) => wasm.validate(b)): {
  build: 'relaxed-simd' | 'simd';
  bytes: Uint8Array;
} {
  const relaxed = readFileSync(RELAXED_KERNEL_WASM);
  return validate(relaxed)
    ? { build: 'relaxed-simd', bytes: relaxed }
    : { build: 'simd', bytes: readFileSync(KERNEL_WASM) };
}

export type GateKind = 'sigmoid' | 'hardSigmoid';
const GATE_CODES: Record<GateKind, number> = { sigmoid: 0, hardSigmoid: 1 };

type KernelExports = {
  heapBase(): number;
  run(tid: number): void;
  matMul(a: number, b: number, bp: number, c: number, m: number, k: number, n: number): void;
};

/**
 * The module's maximumMemory (trainer/engine/kernels/lstm.asconfig.json), 1 GiB: config_2's largest call, the forward pass of its
 * 256-unit layer over an evaluation batch of 256 windows, lays out about 110 MB.
 */
const MAX_PAGES = 16384;
/** Threads of one call at most: the control block has a mailbox for each worker. */
export const MAX_THREADS = 16;
/**
 * A layer gets one more thread per this many units. Measured on 2 cores, batch 16, 60 steps: from 32 units on, 2
 * threads run a layer 1.5-1.9× faster; at 24 units (blocks of 8 + 16) 1.15-1.27×, at 16 the backward pass no faster,
 * at 8 slower: there the per-step barriers cost what the halved work saves (bench/RESULTS.md, "Both cores for a lone
 * trial").
 */
export const MIN_UNITS_PER_THREAD = 16;

const OP_FORWARD = 1;
const OP_BACKWARD = 2;
// Workers run lstm-worker.ts.
const WORKER_FILE = new URL('./lstm-worker.ts', import.meta.url);

type Kernel = {
  module: object;
  memory: WasmMemory;
  exports: KernelExports;
  controlAt: number;
  control: Int32Array;
  workers: Array<{ worker: Worker; errors: MessagePort }>;
  broken?: Error;
};

let loaded: Kernel | undefined;

function kernel(): Kernel {
  if (loaded) return loaded;
  // Synchronous: Node compiles a module of this size at once, and the trainer's layers call this synchronously.
  const module = new wasm.Module(kernelBinary().bytes);
  const memory = new wasm.Memory({ initial: 16, maximum: MAX_PAGES, shared: true });
  const exports = new wasm.Instance(module, { env: { memory } }).exports as KernelExports;
  const controlAt = exports.heapBase() - CONTROL_BYTES;
  const control = new Int32Array(memory.buffer, controlAt, CONTROL_BYTES / 4);
  loaded = { module, memory, exports, controlAt, control, workers: [] };
  return loaded;
}

let requestedThreads: number | (() => number) = 1;
let minUnitsPerThread = MIN_UNITS_PER_THREAD;

/**
 * How many threads the kernel may use from the next call on: a number, or a function asked before every call (the
 * trainer's share of the machine, which the local launcher changes while it trains; keep it cheap). A layer gets
 * at most one thread per `minUnitsPerThread` units (default MIN_UNITS_PER_THREAD) and MAX_THREADS in all. Results do
 * not depend on it.
 */
export function setKernelThreads(
  threads: number | (() => number),
  options: { minUnitsPerThread?: number } = {},
): void {
  if (typeof threads === 'number') checkThreads(threads, 'setKernelThreads');
  const min = options.minUnitsPerThread ?? MIN_UNITS_PER_THREAD;
  if (!Number.isInteger(min) || min < 1)
    throw new Error(`setKernelThreads: minUnitsPerThread must be a whole number of at least 1, got ${min}`);
  requestedThreads = threads;
  minUnitsPerThread = min;
}

function checkThreads(threads: number, where: string): number {
  if (!Number.isInteger(threads) || threads < 1)
    throw new Error(`${where}: the thread count must be a whole number of at least 1, got ${threads}`);
  return threads;
}

/** The threads the kernel may use now (what setKernelThreads gave). */
export function kernelThreads(): number {
  return typeof requestedThreads === 'number'
    ? requestedThreads
    : checkThreads(requestedThreads(), 'the kernel thread count source');
}

/** The threads a layer of `units` units runs on now. */
export function layerThreads(units: number): number {
  return Math.max(1, Math.min(kernelThreads(), MAX_THREADS, Math.floor(units / minUnitsPerThread)));
}

/** The worker threads started so far (they stay, asleep, for later calls; they never keep the process alive). */
export function kernelWorkerCount(): number {
  return loaded?.workers.length ?? 0;
}

function startWorkers(k: Kernel, count: number): void {
  while (k.workers.length < count) {
    const { port1, port2 } = new MessageChannel();
    const tid = k.workers.length + 1;
    const workerData: LstmWorkerData = {
      module: k.module,
      memory: k.memory,
      control: k.controlAt,
      tid,
      errors: port2,
    };
    const worker = new Worker(WORKER_FILE, { workerData, transferList: [port2] });
    worker.on('error', (error) => {
      k.broken ??= new Error(`LSTM kernel: worker thread ${tid} failed: ${error.message}`);
    });
    worker.unref();
    port1.unref();
    k.workers.push({ worker, errors: port1 });
  }
}

/** Runs one job on `threads` threads: posts it to the workers' mailboxes, does thread 0's share, returns when all are done. */
function dispatch(op: number, threads: number, args: number[]): void {
  const k = kernel();
  if (k.broken) throw k.broken;
  const ctl = k.control;
  ctl[JOB] = op;
  ctl[JOB + 1] = threads;
  ctl.set(args, JOB + 2);
  if (threads > 1) {
    startWorkers(k, threads - 1);
    for (let tid = 1; tid < threads; tid++) {
      Atomics.add(ctl, MAILBOX + tid, 1);
      Atomics.notify(ctl, MAILBOX + tid);
    }
  }
  k.exports.run(0);
  if (Atomics.load(ctl, FAILED) !== 0) {
    // The threads' results are unusable, and so is the kernel: the failed worker left the barrier count behind.
    const reasons = k.workers.map((w, i) => {
      const report = receiveMessageOnPort(w.errors);
      return report ? `worker thread ${i + 1}: ${report.message}` : '';
    });
    k.broken = new Error(`LSTM kernel: ${reasons.filter(Boolean).join('; ') || 'a worker thread failed'}`);
    for (const w of k.workers) void w.worker.terminate();
    throw k.broken;
  }
}

/** The forward states a backward pass may still read, oldest first; each one's arrays lie below the next one's. */
const live: LstmState[] = [];

/** Where the next state or a call's scratch starts: above the live states. */
function top(): number {
  return live.at(-1)?.end ?? kernel().exports.heapBase();
}

/**
 * Places arrays one after the other (16-byte aligned) in the module's memory above the live states, growing it when
 * needed, and gives each one's byte offset and end; `view` reads or writes one of them.
 */
function layout(
  sizes: number[],
  what: string,
): { offsets: number[]; end: number; view: (i: number) => Float32Array } {
  const k = kernel();
  let end = 0;
  const placed = layoutFloats(k.memory, top(), sizes, (at) => {
    end = at;
    if (end > MAX_PAGES * WASM_PAGE)
      throw new Error(
        `LSTM kernel: ${what} needs ${Math.ceil(end / 2 ** 20)} MiB of kernel memory, more than its ${(MAX_PAGES * WASM_PAGE) / 2 ** 20} MiB: use fewer units or a smaller batch`,
      );
  });
  return { ...placed, end };
}

/** The sizes of one LSTM layer's batch: T steps, B rows, `inputs` features in, U units. */
export type LstmShape = { steps: number; batch: number; inputs: number; units: number };

/** What a training forward pass keeps in kernel memory for the backward one, in the order laid out. */
const STATE_ARRAYS = ['x', 'w', 'wp', 'bias', 'act', 'r', 'rp', 'c', 'tanhC', 'hPrev'] as const;
type StateArray = (typeof STATE_ARRAYS)[number];

/** The floats of each state array. hPrev is h(t-1) of every step: a block of zeros, then h of steps 0 ... T-1. */
function stateSizes({ steps, batch, inputs, units }: LstmShape): Record<StateArray, number> {
  const g = 4 * units;
  const rows = steps * batch;
  const n = rows * units;
  return {
    x: rows * inputs,
    w: inputs * g,
    wp: inputs * g,
    bias: g,
    act: rows * g,
    r: units * g,
    rp: units * g,
    c: n,
    tanhC: n,
    hPrev: n + batch * units,
  };
}

/**
 * A training forward pass's output h [T·B, U] and the state it left in kernel memory (gate activations [T·B, 4U]
 * (i, f, g, o), c, tanh(c), h(t-1), and its inputs), which lstmLayerBackward reads until releaseLstmState.
 */
export type LstmState = LstmShape & {
  gate: GateKind;
  h: Float32Array;
  at: Record<StateArray, number>;
  end: number;
};

/** A forward state copied out of kernel memory (saveLstmState), for callers that cannot release in order. */
export type SavedLstmState = LstmShape & { gate: GateKind; arrays: Record<StateArray, Float32Array> };

type Weights = { kernel: Float32Array; bias: Float32Array; recurrent: Float32Array };

/** Lays out the state arrays of `shape` above the live states, and gives their offsets, end and views. */
function stateLayout(shape: LstmShape, what: string) {
  const sizes = stateSizes(shape);
  const mem = layout(
    STATE_ARRAYS.map((name) => sizes[name]),
    what,
  );
  const at = Object.fromEntries(STATE_ARRAYS.map((name, i) => [name, mem.offsets[i]!])) as Record<
    StateArray,
    number
  >;
  return { at, end: mem.end, view: (name: StateArray) => mem.view(STATE_ARRAYS.indexOf(name)) };
}

function checkForward(x: Float32Array, weights: Weights, shape: LstmShape): void {
  const { steps, batch, inputs, units } = shape;
  const g = 4 * units;
  checkLength('x', x, steps * batch * inputs);
  checkLength('the kernel', weights.kernel, inputs * g);
  checkLength('the bias', weights.bias, g);
  checkLength('the recurrent kernel', weights.recurrent, units * g);
}

/**
 * Lays out a state above the live ones, copies the inputs in and runs the forward pass there; gives the layout and
 * a copy of h. `pass` names the pass in the error of a layer too large for the memory.
 */
function runForward(x: Float32Array, weights: Weights, shape: LstmShape, gate: GateKind, pass: string) {
  checkForward(x, weights, shape);
  const { steps, batch, inputs, units } = shape;
  const mem = stateLayout(shape, `the ${pass} pass of ${units} units over ${steps} steps of ${batch} rows`);
  mem.view('x').set(x);
  mem.view('w').set(weights.kernel);
  mem.view('bias').set(weights.bias);
  mem.view('r').set(weights.recurrent);
  // h(t-1) of step 0 is zero; the kernel writes h of every step after it.
  mem.view('hPrev').fill(0, 0, batch * units);
  const h = mem.at.hPrev + batch * units * 4;
  const { at } = mem;
  dispatch(OP_FORWARD, layerThreads(units), [
    steps,
    batch,
    inputs,
    units,
    GATE_CODES[gate],
    ...[at.x, at.w, at.wp, at.bias, at.act, at.r, at.rp, at.c, at.tanhC, h],
  ]);
  return { mem, h: new Float32Array(kernel().memory.buffer, h, steps * batch * units).slice() };
}

/**
 * One LSTM layer over all steps from zero states, for training: x [T·B, in] time-major, kernel [in, 4U], bias [4U],
 * recurrent kernel [U, 4U]. The input projection x·W + b is one product; then the recurrence. The state stays in
 * kernel memory, live until releaseLstmState (of it or of a state made before it).
 */
export function lstmLayerForward(
  x: Float32Array,
  weights: Weights,
  shape: LstmShape,
  gate: GateKind,
): LstmState {
  const { mem, h } = runForward(x, weights, shape, gate, 'forward');
  const state = { ...shape, gate, h, at: mem.at, end: mem.end };
  live.push(state);
  return state;
}

/**
 * The same layer's output h [T·B, U] alone, for inference: nothing stays in kernel memory, and no backward pass
 * can follow.
 */
export function lstmLayerInfer(
  x: Float32Array,
  weights: Weights,
  shape: LstmShape,
  gate: GateKind,
): Float32Array {
  return runForward(x, weights, shape, gate, 'inference').h;
}

/** Frees a forward state's kernel memory, and that of every state made after it (they lie above it). */
export function releaseLstmState(state: LstmState): void {
  const i = live.indexOf(state);
  if (i >= 0) live.length = i;
}

/** A copy of a live state's arrays, then the state released (restoreLstmState puts it back for a backward pass). */
export function saveLstmState(state: LstmState): SavedLstmState {
  checkLive(state);
  const memory = kernel().memory;
  const sizes = stateSizes(state);
  const arrays = Object.fromEntries(
    STATE_ARRAYS.map((name) => [name, new Float32Array(memory.buffer, state.at[name], sizes[name]).slice()]),
  ) as Record<StateArray, Float32Array>;
  releaseLstmState(state);
  const { steps, batch, inputs, units, gate } = state;
  return { steps, batch, inputs, units, gate, arrays };
}

/** A saved state back in kernel memory, live until released. */
export function restoreLstmState(saved: SavedLstmState): LstmState {
  const { arrays, ...rest } = saved;
  const { steps, batch, units } = saved;
  const mem = stateLayout(saved, `the restored state of ${units} units over ${steps} steps of ${batch} rows`);
  for (const name of STATE_ARRAYS) mem.view(name).set(arrays[name]);
  const state = { ...rest, h: arrays.hPrev.subarray(batch * units), at: mem.at, end: mem.end };
  live.push(state);
  return state;
}

function checkLive(state: LstmState): void {
  if (!live.includes(state))
    throw new Error(
      'LSTM kernel: this forward state was released (releaseLstmState); run the forward pass again',
    );
}

/** The gradients of one layer's batch: dx time-major [T·B, in], and those of kernel, recurrent kernel and bias. */
export type LstmGradients = {
  /** Empty when the caller said it has no use for it (`inputGradient: false`). */
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
  const mem = layout([m * k, k * n, k * n, m * n], `a ${m}×${k}·${k}×${n} product`);
  mem.view(0).set(a);
  mem.view(1).set(b);
  const [aAt, bAt, packedAt, cAt] = mem.offsets as [number, number, number, number];
  kernel().exports.matMul(aAt, bAt, packedAt, cAt, m, k, n);
  return mem.view(3).slice();
}

function checkLength(what: string, array: Float32Array, expected: number): void {
  if (array.length !== expected)
    throw new Error(`LSTM kernel: ${what} has ${array.length} values, expected ${expected}`);
}

/**
 * The gradients of one layer's batch from the forward state and dy: [T·B, U] time-major for every step's output,
 * or [B, U] for the last step's only. The recurrence gives dz [T·B, 4U]; then dR = h(t-1)ᵀ·dz, dW = xᵀ·dz,
 * dx = dz·Wᵀ (not with `inputGradient: false`) and db = Σ dz, each one product over all steps.
 */
export function lstmLayerBackward(
  state: LstmState,
  dy: Float32Array,
  { inputGradient = true }: { inputGradient?: boolean } = {},
): LstmGradients {
  checkLive(state);
  const { steps, batch, inputs, units } = state;
  // Without dx the kernel needs no Wᵀ either.
  const dxInputs = inputGradient ? inputs : 0;
  const g = 4 * units;
  const rows = steps * batch;
  const n = rows * units;
  const sequences = dy.length === n;
  if (!sequences) checkLength('dy', dy, batch * units);
  // The kernel's scratch and outputs, laid out above the live states.
  const sizes = {
    rT: units * g,
    rTp: units * g,
    dy: dy.length,
    dz: rows * g,
    dzp: rows * g,
    dh: batch * units,
    dc: batch * units,
    hPrevT: n,
    xT: rows * inputs,
    wT: dxInputs * g,
    wTp: dxInputs * g,
    dR: units * g,
    dW: inputs * g,
    dx: rows * dxInputs,
    db: g,
  };
  const names = Object.keys(sizes) as (keyof typeof sizes)[];
  const mem = layout(
    names.map((name) => sizes[name]),
    `the backward pass of ${units} units over ${steps} steps of ${batch} rows`,
  );
  const view = (name: keyof typeof sizes) => mem.view(names.indexOf(name));
  const at = (name: keyof typeof sizes) => mem.offsets[names.indexOf(name)]!;
  view('dy').set(dy);
  const s = state.at;
  // In the order of the kernel's arguments after the shape, gate kind and `sequences`.
  dispatch(OP_BACKWARD, layerThreads(units), [
    steps,
    batch,
    inputs,
    units,
    GATE_CODES[state.gate],
    sequences ? 1 : 0,
    ...[s.act, s.c, s.tanhC, s.r, at('rT'), at('rTp'), at('dy'), at('dz'), at('dzp'), at('dh'), at('dc')],
    ...[
      s.hPrev,
      at('hPrevT'),
      s.x,
      at('xT'),
      s.w,
      at('wT'),
      at('wTp'),
      at('dR'),
      at('dW'),
      inputGradient ? at('dx') : 0,
      at('db'),
    ],
  ]);
  return {
    dx: view('dx').slice(),
    dKernel: view('dW').slice(),
    dRecurrent: view('dR').slice(),
    dBias: view('db').slice(),
  };
}
