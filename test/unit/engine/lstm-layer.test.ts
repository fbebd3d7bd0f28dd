import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { FastLstm, fastLstm, KERAS_LSTM_DEFAULTS } from '../../../trainer/engine/lstm-layer.ts';

const BATCH = 3;
const STEPS = 5;
const FEATURES = 4;
const UNITS = 8;

/** max |a - b| / max |b|: the error relative to the size of the reference tensor. */
function relativeError(actual: tf.Tensor, expected: tf.Tensor): number {
  return tf.tidy(() => {
    const scale = tf.max(tf.abs(expected)).dataSync()[0]!;
    expect(scale).toBeGreaterThan(0);
    return tf.max(tf.abs(tf.sub(actual, expected))).dataSync()[0]! / scale;
  });
}

type LstmArgs = Parameters<typeof tf.layers.lstm>[0];

/** A stock tf.layers.lstm and a fastLstm with the same arguments and the same (random, non-trivial) weights. */
function twinLayers(args: LstmArgs) {
  const stock = tf.layers.lstm(args);
  const fast = fastLstm(args);
  tf.tidy(() => {
    stock.apply(tf.zeros([1, STEPS, FEATURES]));
    fast.apply(tf.zeros([1, STEPS, FEATURES]));
  });
  // Random bias so that every gate block is exercised away from its initial value.
  const weights = stock.getWeights();
  const bias = tf.randomNormal(weights[2]!.shape, 0, 0.5, 'float32', 7);
  stock.setWeights([weights[0]!, weights[1]!, bias]);
  fast.setWeights(stock.getWeights());
  return { stock, fast };
}

/** d(Σ y ⊙ probe)/d(x, kernel, recurrent kernel, bias), through the layer's own weights. */
function gradients(layer: tf.layers.Layer, x: tf.Variable, probe: tf.Tensor) {
  const weights = layer.trainableWeights.map((w) => w.read() as tf.Variable);
  const { grads } = tf.variableGrads(
    () => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, probe)) as tf.Scalar,
    [x, ...weights],
  );
  return [x, ...weights].map((v) => grads[v.name]!);
}

for (const backend of ['cpu', 'wasm']) {
  describe(`fastLstm on the ${backend} backend`, () => {
    beforeAll(async () => {
      expect(await tf.setBackend(backend)).toBe(true);
    });

    for (const returnSequences of [true, false]) {
      for (const recurrentActivation of ['sigmoid', 'hardSigmoid'] as const) {
        it(`matches tf.layers.lstm forward and gradients (returnSequences ${returnSequences}, ${recurrentActivation} gates)`, () => {
          const { stock, fast } = twinLayers({
            units: UNITS,
            returnSequences,
            recurrentActivation,
            unitForgetBias: true,
          });
          expect(fast.usesFastPath).toBe(true);
          const x = tf.variable(tf.randomNormal([BATCH, STEPS, FEATURES], 0, 1, 'float32', 1));
          const expected = stock.apply(x) as tf.Tensor;
          const actual = fast.apply(x) as tf.Tensor;
          expect(actual.shape).toEqual(returnSequences ? [BATCH, STEPS, UNITS] : [BATCH, UNITS]);
          expect(relativeError(actual, expected)).toBeLessThan(1e-5);

          const probe = tf.randomNormal(expected.shape, 0, 1, 'float32', 2);
          const expectedGrads = gradients(stock, x, probe);
          const actualGrads = gradients(fast, x, probe);
          expect(actualGrads.map((g) => g.shape)).toEqual([
            [BATCH, STEPS, FEATURES],
            [FEATURES, 4 * UNITS],
            [UNITS, 4 * UNITS],
            [4 * UNITS],
          ]);
          actualGrads.forEach((g, k) => {
            expect(relativeError(g, expectedGrads[k]!), `gradient ${k}`).toBeLessThan(1e-5);
          });
          tf.dispose([x, expected, actual, probe, ...expectedGrads, ...actualGrads]);
          stock.dispose();
          fast.dispose();
        });
      }
    }

    it('runs tfjs own code, with the same results, for configurations the fast path does not cover', () => {
      const { stock, fast } = twinLayers({ units: UNITS, returnSequences: true, goBackwards: true });
      expect(fast.usesFastPath).toBe(false);
      const x = tf.randomNormal([BATCH, STEPS, FEATURES], 0, 1, 'float32', 6);
      const [expected, actual] = [stock.apply(x) as tf.Tensor, fast.apply(x) as tf.Tensor];
      expect(relativeError(actual, expected)).toBe(0);
      tf.dispose([x, expected, actual]);
    });

    it('counts its kernel L2 terms in the model loss (stock tfjs LSTMs leave them out; Keras counts them)', () => {
      const input = tf.input({ shape: [STEPS, FEATURES] });
      const args = { units: UNITS, kernelRegularizer: tf.regularizers.l2({ l2: 1e-1 }) } as LstmArgs;
      const stock = tf.layers.lstm(args);
      const fast = fastLstm(args);
      const model = tf.model({
        inputs: input,
        outputs: [stock.apply(input) as tf.SymbolicTensor, fast.apply(input) as tf.SymbolicTensor],
      });
      const squares = (layer: tf.layers.Layer) => tf.sum(tf.square(layer.getWeights()[0]!)).dataSync()[0]!;
      const losses = model.calculateLosses().map((l) => l.dataSync()[0]!);
      expect(stock.losses).toHaveLength(0);
      expect(losses).toHaveLength(1);
      expect(Math.abs(losses[0]! - 0.1 * squares(fast)) / losses[0]!).toBeLessThan(1e-6);
      model.dispose();
    });

    it('takes one training step in a model exactly like tf.layers.lstm with its L2 terms counted', async () => {
      const build = (lstm: (args: LstmArgs) => tf.layers.Layer) => {
        const input = tf.input({ shape: [STEPS, FEATURES] });
        const args = { kernelRegularizer: tf.regularizers.l2({ l2: 1e-1 }), recurrentActivation: 'sigmoid' };
        const layers = [
          lstm({ units: UNITS, returnSequences: true, ...args } as LstmArgs),
          lstm({ units: 6, ...args } as LstmArgs),
        ];
        const output = tf.layers
          .dense({ units: 1, activation: 'sigmoid' })
          .apply(layers[1]!.apply(layers[0]!.apply(input))) as tf.SymbolicTensor;
        const model = tf.model({ inputs: input, outputs: output });
        model.compile({ optimizer: tf.train.sgd(0.5), loss: 'binaryCrossentropy' });
        return { model, layers };
      };
      const stock = build(tf.layers.lstm);
      // The stock layers made to count their cells' L2 terms, as FastLstm does, so both train on the same loss.
      for (const layer of stock.layers) {
        const cell = (layer as unknown as { cell: tf.layers.Layer }).cell;
        Object.defineProperty(layer, 'losses', { get: () => cell.losses });
      }
      const fast = build(fastLstm);
      expect(fast.layers[0]).toBeInstanceOf(FastLstm);
      fast.model.setWeights(stock.model.getWeights());
      const x = tf.randomNormal([BATCH, STEPS, FEATURES], 0, 1, 'float32', 3);
      const y = tf.tensor2d([[1], [0], [1]]);
      const stockLoss = (await stock.model.trainOnBatch(x, y)) as number;
      const fastLoss = (await fast.model.trainOnBatch(x, y)) as number;
      expect(Math.abs(fastLoss - stockLoss) / stockLoss).toBeLessThan(1e-5);
      const stockWeights = stock.model.getWeights();
      fast.model.getWeights().forEach((w, k) => {
        expect(relativeError(w, stockWeights[k]!), `weight ${k}`).toBeLessThan(1e-5);
      });
      tf.dispose([x, y]);
      stock.model.dispose();
      fast.model.dispose();
    });

    it('saves as a standard LSTM that stock tf.loadLayersModel loads and predicts with identically', async () => {
      const input = tf.input({ shape: [STEPS, FEATURES] });
      const lstm = fastLstm({
        units: UNITS,
        returnSequences: true,
        kernelRegularizer: tf.regularizers.l2({ l2: 1e-3 }),
        seed: 11,
      });
      const last = fastLstm({ units: 6, seed: 12 }).apply(lstm.apply(input));
      const output = tf.layers.dense({ units: 1, activation: 'sigmoid' }).apply(last) as tf.SymbolicTensor;
      const model = tf.model({ inputs: input, outputs: output });
      let artifacts: tf.io.ModelArtifacts | undefined;
      await model.save(
        tf.io.withSaveHandler(async (a) => {
          artifacts = a;
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }),
      );
      const topology = JSON.stringify(artifacts!.modelTopology);
      expect(topology.match(/"class_name":"LSTM"/g)).toHaveLength(2);
      expect(artifacts!.weightSpecs!.filter((w) => w.name.includes('lstm')).map((w) => w.shape)).toEqual([
        [FEATURES, 4 * UNITS],
        [UNITS, 4 * UNITS],
        [4 * UNITS],
        [UNITS, 24],
        [6, 24],
        [24],
      ]);

      const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
      expect(loaded.layers[1]!.getClassName()).toBe('LSTM');
      expect(loaded.layers[1]).not.toBeInstanceOf(FastLstm);
      const x = tf.randomNormal([BATCH, STEPS, FEATURES], 0, 1, 'float32', 4);
      const expected = model.predict(x) as tf.Tensor;
      const actual = loaded.predict(x) as tf.Tensor;
      expect(relativeError(actual, expected)).toBeLessThan(1e-5);
      tf.dispose([x, expected, actual]);
      model.dispose();
      loaded.dispose();
    });

    it('offers the arguments that give Keras LSTM defaults, seedable', () => {
      const layer = fastLstm({ units: UNITS, ...KERAS_LSTM_DEFAULTS, seed: 3 });
      tf.tidy(() => {
        layer.apply(tf.zeros([1, STEPS, FEATURES]));
      });
      const config = layer.getConfig();
      expect(config.recurrentActivation).toBe('sigmoid');
      expect(config.unitForgetBias).toBe(true);
      // Glorot uniform is variance scaling, fan average, uniform, scale 1.
      expect(config.kernelInitializer).toMatchObject({
        className: 'VarianceScaling',
        config: { seed: 3, mode: 'fanAvg', distribution: 'uniform', scale: 1 },
      });
      // Unit forget bias: the forget block of the bias starts at 1, the rest at 0.
      const bias = Array.from(layer.getWeights()[2]!.dataSync());
      expect(bias).toEqual([...Array(UNITS).fill(0), ...Array(UNITS).fill(1), ...Array(2 * UNITS).fill(0)]);
      layer.dispose();
    });

    it('gives repeatable initial weights with a seed', () => {
      const weightsOf = (seed: number) => {
        const layer = fastLstm({ units: UNITS, seed });
        tf.tidy(() => {
          layer.apply(tf.zeros([1, STEPS, FEATURES]));
        });
        const values = layer.getWeights().map((w) => Array.from(w.dataSync()));
        layer.dispose();
        return values;
      };
      expect(weightsOf(5)).toEqual(weightsOf(5));
      expect(weightsOf(5)[0]).not.toEqual(weightsOf(6)[0]);
    });

    it('keeps the number of tensors stable across training steps and predictions', async () => {
      const input = tf.input({ shape: [STEPS, FEATURES] });
      const hidden = fastLstm({ units: UNITS, returnSequences: true }).apply(input);
      const last = fastLstm({ units: UNITS }).apply(hidden);
      const output = tf.layers.dense({ units: 1, activation: 'sigmoid' }).apply(last) as tf.SymbolicTensor;
      const model = tf.model({ inputs: input, outputs: output });
      model.compile({ optimizer: tf.train.adam(0.01), loss: 'binaryCrossentropy' });
      const x = tf.randomNormal([BATCH, STEPS, FEATURES], 0, 1, 'float32', 5);
      const y = tf.tensor2d([[1], [0], [1]]);
      const step = async () => {
        await model.trainOnBatch(x, y);
        tf.dispose(model.predict(x) as tf.Tensor);
      };
      await step(); // the first step creates the optimizer's slots
      const before = tf.memory().numTensors;
      for (let k = 0; k < 5; k++) await step();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, y]);
      model.dispose();
    });
  });
}
