/**
 * A worker thread of the LSTM kernel (started by lstm.ts): its own instance of the module on the shared memory,
 * then the jobs the main thread posts to its mailbox. A failure is reported on the `errors` port and by the FAILED
 * flag, which releases the other threads from their barriers.
 */
import { type MessagePort, workerData } from 'node:worker_threads';
import { CONTROL_BYTES, FAILED, MAILBOX, RELEASE, WORKER_SPINS } from './lstm-control.ts';
import { type WasmMemory, wasm } from './wasm-memory.ts';

export type LstmWorkerData = {
  module: object;
  memory: WasmMemory;
  /** The control block's byte offset. */
  control: number;
  tid: number;
  errors: MessagePort;
};

const { module, memory, control, tid, errors } = workerData as LstmWorkerData;
const ctl = new Int32Array(memory.buffer, control, CONTROL_BYTES / 4);
const mailbox = MAILBOX + tid;
let seen = 0;
try {
  const { run } = new wasm.Instance(module, { env: { memory } }).exports as { run: (tid: number) => void };
  for (;;) {
    for (let i = 0; Atomics.load(ctl, mailbox) === seen; i++)
      if (i >= WORKER_SPINS) Atomics.wait(ctl, mailbox, seen);
    seen = Atomics.load(ctl, mailbox);
    run(tid);
  }
} catch (error) {
  errors.postMessage(String((error as Error | undefined)?.stack ?? error));
  Atomics.store(ctl, FAILED, 1);
  Atomics.add(ctl, RELEASE, 1);
  Atomics.notify(ctl, RELEASE);
}
