/**
 * Seconds per training epoch of config_2's three-LSTM stack (256-128-64, batch 16, 110 windows of 60×27, a
 * sigmoid head) on the wasm backend: tf.layers.lstm (before) against fastLstm (after), with memory, the loss of
 * each epoch (the two must agree: same weights, same data, same order) and the arithmetic floor.
 *
 *   npx tsx bench/lstm.ts            # 3 epochs per variant; BENCH_EPOCHS=2 for fewer
 *
 * Each variant runs in its own child process so that its peak memory (max RSS) is its own.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { fastLstm, KERAS_LSTM_DEFAULTS } from '../trainer/engine/lstm-layer.ts';

const UNITS = [256, 128, 64] as const;
const BATCH = 16;
const WINDOWS = 110;
const STEPS = 60;
const FEATURES = 27;
const EPOCHS = Number(process.env.BENCH_EPOCHS ?? 3);
const SEED = 42;

type Variant = 'tf.layers.lstm' | 'fastLstm';
type VariantResult = {
  variant: Variant;
  epochSeconds: number[];
  losses: number[];
  numTensors: number[];
  tensorMegabytes: number[];
  rssMegabytes: number[];
  maxRssMegabytes: number;
};

/** The config_2 LSTM stack with Keras's LSTM settings (sigmoid gates, glorotUniform, unit forget bias). */
function buildModel(variant: Variant): tf.LayersModel {
  const input = tf.input({ shape: [STEPS, FEATURES] });
  let x: tf.SymbolicTensor = input;
  UNITS.forEach((units, k) => {
    const args = {
      units,
      returnSequences: k < UNITS.length - 1,
      kernelRegularizer: tf.regularizers.l2({ l2: 1e-3 }),
      ...KERAS_LSTM_DEFAULTS,
      // Seeded, so that both variants start from the same weights.
      kernelInitializer: tf.initializers.glorotUniform({ seed: SEED + 2 * k }),
      recurrentInitializer: tf.initializers.orthogonal({ seed: SEED + 2 * k + 1 }),
    };
    const layer = variant === 'fastLstm' ? fastLstm(args) : tf.layers.lstm(args);
    x = layer.apply(x) as tf.SymbolicTensor;
  });
  const dense = tf.layers.dense({ units: 1, activation: 'sigmoid', kernelInitializer: 'zeros' });
  const model = tf.model({ inputs: input, outputs: dense.apply(x) as tf.SymbolicTensor });
  model.compile({ optimizer: tf.train.adam(5e-4), loss: 'binaryCrossentropy' });
  return model;
}

async function runVariant(variant: Variant): Promise<VariantResult> {
  await tf.setBackend('wasm');
  const model = buildModel(variant);
  const x = tf.randomNormal([WINDOWS, STEPS, FEATURES], 0, 1, 'float32', SEED);
  const y = tf.cast(tf.greater(tf.randomUniform([WINDOWS, 1], 0, 1, 'float32', SEED + 1), 0.5), 'float32');
  const result: VariantResult = {
    variant,
    epochSeconds: [],
    losses: [],
    numTensors: [],
    tensorMegabytes: [],
    rssMegabytes: [],
    maxRssMegabytes: 0,
  };
  let started = 0;
  await model.fit(x, y, {
    batchSize: BATCH,
    epochs: EPOCHS,
    shuffle: false,
    verbose: 0,
    callbacks: {
      onEpochBegin: async () => {
        started = performance.now();
      },
      onEpochEnd: async (_epoch, logs) => {
        result.epochSeconds.push((performance.now() - started) / 1000);
        result.losses.push(logs?.loss ?? Number.NaN);
        result.numTensors.push(tf.memory().numTensors);
        result.tensorMegabytes.push(tf.memory().numBytes / 2 ** 20);
        result.rssMegabytes.push(process.memoryUsage().rss / 2 ** 20);
      },
    },
  });
  result.maxRssMegabytes = process.resourceUsage().maxRSS / 1024;
  return result;
}

/** GFLOP/s of a 1024×1024 by 1024×1024 product, the rate the LSTM's large products can at best reach. */
async function largeMatMulRate(): Promise<number> {
  await tf.setBackend('wasm');
  const n = 1024;
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  tf.matMul(a, b).dispose(); // warm-up
  const repeats = 5;
  const started = performance.now();
  for (let k = 0; k < repeats; k++) tf.matMul(a, b).dataSync();
  const seconds = (performance.now() - started) / 1000;
  tf.dispose([a, b]);
  return (2 * n ** 3 * repeats) / seconds / 1e9;
}

/**
 * Floating-point operations of one epoch's matrix products (element-wise work is a few percent). Per window and
 * step, an LSTM layer with input width d and u units multiplies x·W and h·R forward, and backward the products
 * for dW, dR, dh and dx (none for the first layer's input).
 */
function flopsPerEpoch(): number {
  let perWindowStep = 0;
  let inputWidth: number = FEATURES;
  UNITS.forEach((units, k) => {
    const forward = 2 * (inputWidth + units) * 4 * units; // x·W and h·R
    const weightGradients = 2 * (inputWidth + units) * 4 * units; // dW and dR
    const stateGradient = 2 * units * 4 * units; // dh = dz·Rᵀ
    const inputGradient = k === 0 ? 0 : 2 * inputWidth * 4 * units; // dx = dz·Wᵀ
    perWindowStep += forward + weightGradients + stateGradient + inputGradient;
    inputWidth = units;
  });
  return perWindowStep * STEPS * WINDOWS;
}

function runInChild(variant: Variant): VariantResult {
  const script = fileURLToPath(import.meta.url);
  const out = execFileSync(process.execPath, [...process.execArgv, script, '--variant', variant], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lastLine = out.trim().split('\n').at(-1) ?? '';
  return JSON.parse(lastLine) as VariantResult;
}

const fixed = (values: number[], digits: number) => values.map((v) => v.toFixed(digits)).join(', ');

async function main(): Promise<void> {
  const variantArg = process.argv.indexOf('--variant');
  if (variantArg >= 0) {
    console.log(JSON.stringify(await runVariant(process.argv[variantArg + 1] as Variant)));
    return;
  }
  const rate = await largeMatMulRate();
  const flops = flopsPerEpoch();
  console.log(
    `wasm backend, one thread; config_2 LSTM stack ${UNITS.join('-')}, batch ${BATCH}, ${WINDOWS} windows`,
  );
  console.log(`matMul 1024³: ${rate.toFixed(1)} GFLOP/s`);
  console.log(
    `arithmetic per epoch (forward + backward products): ${(flops / 1e9).toFixed(1)} GFLOP → floor ${(flops / 1e9 / rate).toFixed(2)} s/epoch`,
  );
  const results = (['tf.layers.lstm', 'fastLstm'] as const).map(runInChild);
  for (const r of results) {
    // The first epoch includes warm-up (V8 tiering up the wasm code, heap growth); report the later ones.
    const later = r.epochSeconds.length > 1 ? r.epochSeconds.slice(1) : r.epochSeconds;
    const steady = later.reduce((s, v) => s + v, 0) / later.length;
    console.log(
      `\n${r.variant}: ${steady.toFixed(2)} s/epoch after the first epoch (all: ${fixed(r.epochSeconds, 2)} s)`,
    );
    console.log(`  loss per epoch: ${fixed(r.losses, 6)}`);
    console.log(`  tensors after each epoch: ${r.numTensors.join(', ')} (${fixed(r.tensorMegabytes, 1)} MB)`);
    console.log(
      `  RSS after each epoch: ${fixed(r.rssMegabytes, 0)} MB; peak RSS ${r.maxRssMegabytes.toFixed(0)} MB`,
    );
  }
  // Same weights, data and batch order: the losses must agree, or the fast layer computes something else.
  const [before, after] = results as [VariantResult, VariantResult];
  const worst = Math.max(
    ...before.losses.map((loss, k) => Math.abs((after.losses[k] ?? Number.NaN) - loss) / loss),
  );
  console.log(
    `\nlargest relative difference between the two variants' epoch losses: ${worst.toExponential(1)}`,
  );
}

await main();
