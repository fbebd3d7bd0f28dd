import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { EarlyStopping, ReduceLrOnPlateau } from '../../trainer/callbacks.ts';

describe('EarlyStopping', () => {
  it('stops after `patience` epochs without a lower val_loss and remembers the best epoch', () => {
    const es = new EarlyStopping(3);
    const losses = [0.7, 0.6, 0.65, 0.61, 0.6, 0.62];
    const decisions = losses.map((l, i) => es.update(i + 1, l));
    expect(decisions.map((d) => d.improved)).toEqual([true, true, false, false, false, false]);
    expect(decisions.map((d) => d.stop)).toEqual([false, false, false, false, true, true]);
    expect(es.bestEpoch).toBe(2);
    expect(es.best).toBe(0.6);
  });

  it('an equal loss is not an improvement; a lower one resets the wait', () => {
    const es = new EarlyStopping(2);
    expect(es.update(1, 0.5).improved).toBe(true);
    expect(es.update(2, 0.5)).toEqual({ improved: false, stop: false });
    expect(es.update(3, 0.4)).toEqual({ improved: true, stop: false });
    expect(es.update(4, 0.45)).toEqual({ improved: false, stop: false });
    expect(es.update(5, 0.45)).toEqual({ improved: false, stop: true });
  });
});

describe('ReduceLrOnPlateau', () => {
  it('halves the rate after `patience` epochs without an improvement of 1e-4, then waits again', () => {
    const plateau = new ReduceLrOnPlateau(0.5, 2, 1e-7);
    let lr = 1e-3;
    const rates: number[] = [];
    for (const loss of [0.7, 0.69995, 0.7, 0.69, 0.7, 0.7, 0.7, 0.7]) {
      lr = plateau.update(loss, lr);
      rates.push(lr);
    }
    // 0.69995 is not 1e-4 better than 0.7: epochs 2 and 3 wait, epoch 3 halves; 0.69 improves; 5-6 wait, 6 halves.
    expect(rates).toEqual([1e-3, 1e-3, 5e-4, 5e-4, 5e-4, 2.5e-4, 2.5e-4, 1.25e-4]);
  });

  it('never goes below the floor', () => {
    const plateau = new ReduceLrOnPlateau(0.5, 1, 1e-7);
    let lr = 3e-7;
    for (let i = 0; i < 5; i++) lr = plateau.update(1, lr);
    expect(lr).toBe(1e-7);
  });
});

describe('restoring the best weights', () => {
  it('a snapshot taken at the best epoch brings the model back exactly', async () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
    const snapshot = model.getWeights().map((w) => w.clone());
    const before = await (model.predict(tf.ones([1, 3])) as tf.Tensor).data();
    model.setWeights(model.getWeights().map((w) => tf.add(w, 1)));
    const moved = await (model.predict(tf.ones([1, 3])) as tf.Tensor).data();
    expect(Array.from(moved)).not.toEqual(Array.from(before));
    model.setWeights(snapshot);
    expect(Array.from(await (model.predict(tf.ones([1, 3])) as tf.Tensor).data())).toEqual(
      Array.from(before),
    );
  });
});
