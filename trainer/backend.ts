import util from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../shared/errors.ts';
import { readSettings } from '../shared/settings.ts';

/**
 * In the order tried. The fused wasm engine comes before tfjs-node: on a CPU it trains 1.1-2.3× faster per epoch
 * (bench/RESULTS.md, "tfjs-node"), so tfjs-node (the CPU image) is used only where TRENDCAST_TFJS_BACKEND names it.
 */
export const BACKENDS = ['node-gpu', 'wasm', 'node', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** tfjs-node 4.22 calls `util.isNullOrUndefined`, which Node 23 removed (tensorflow/tfjs#8609). */
function shimIsNullOrUndefined(): void {
  const legacy = util as { isNullOrUndefined?: (value: unknown) => boolean };
  legacy.isNullOrUndefined ??= (value) => value === null || value === undefined;
}

/**
 * How each backend loads: the native ones are optional packages that may be missing (their installs download
 * libtensorflow; `npm run build:tfjs-node` builds tfjs-node from PyPI's TensorFlow wheel instead).
 */
const LOADERS: Record<BackendName, () => Promise<void>> = {
  'node-gpu': async () => {
    const pkg = '@tensorflow/tfjs-node-gpu'; // a variable, so TypeScript does not require the optional package
    shimIsNullOrUndefined();
    await import(pkg);
    if (!(await tf.setBackend('tensorflow')))
      throw new Error('the tensorflow (GPU) backend did not initialize');
  },
  node: async () => {
    const pkg = '@tensorflow/tfjs-node';
    shimIsNullOrUndefined();
    await import(pkg);
    if (!(await tf.setBackend('tensorflow'))) throw new Error('the tensorflow backend did not initialize');
  },
  wasm: async () => {
    await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialize');
  },
  cpu: async () => {
    if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend did not initialize');
  },
};

/**
 * Uses the first backend that loads of tfjs-node-gpu, wasm, tfjs-node and the plain CPU backend, or the one
 * `TRENDCAST_TFJS_BACKEND` names (failing when it cannot load). Returns its name, as recorded in the metrics.
 */
export async function selectBackend(
  forced: string | undefined = readSettings().TRENDCAST_TFJS_BACKEND,
): Promise<BackendName> {
  // Production mode: no debug checks, and no "install tfjs-node" banner on stderr; the metrics record the backend.
  tf.enableProdMode();
  if (forced) {
    if (!(BACKENDS as readonly string[]).includes(forced)) {
      throw new InputError(`TRENDCAST_TFJS_BACKEND: "${forced}" is not one of ${BACKENDS.join(', ')}`);
    }
    try {
      await LOADERS[forced as BackendName]();
    } catch (e) {
      throw new Error(
        `TRENDCAST_TFJS_BACKEND=${forced}: the backend cannot load here (${(e as Error).message})`,
      );
    }
    await tf.ready();
    return forced as BackendName;
  }
  for (const name of BACKENDS) {
    try {
      await LOADERS[name]();
      await tf.ready();
      return name;
    } catch {
      // not installed or not usable here: try the next one
    }
  }
  throw new Error('no TensorFlow.js backend could be loaded');
}
