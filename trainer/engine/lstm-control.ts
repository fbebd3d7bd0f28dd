/**
 * The LSTM kernel's control block, shared by the main thread (lstm.ts) and its workers (lstm-worker.ts): it sits
 * just before the module's heap base; offsets are i32 indexes (trainer/engine/kernels/lstm.ts has them in bytes).
 */
export const CONTROL_BYTES = 512;
export const RELEASE = 16;
/** + tid, for workers 1 ... MAX_THREADS - 1. */
export const MAILBOX = 32;
export const FAILED = 48;
/** op, thread count, arguments. */
export const JOB = 64;
// A worker spins this many loads (about 0.1 ms) on its mailbox before it sleeps, so that the calls of one
// batch's layers find it awake, and an idle trainer's workers do not hold a core.
export const WORKER_SPINS = 20000;
