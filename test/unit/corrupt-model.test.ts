import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../adapters/local/object-store.ts';
import { CorruptModelError, isPermanent, NotFoundError } from '../../shared/errors.ts';
import { loadModel, saveModel } from '../../trainer/artifacts.ts';

const store = new LocalObjectStore(mkdtempSync(join(tmpdir(), 'corrupt-model-')));

async function savedModel(prefix: string) {
  const model = tf.sequential({
    layers: [tf.layers.dense({ units: 1, inputShape: [2], activation: 'sigmoid' })],
  });
  await saveModel(model, store, prefix);
  model.dispose();
  return JSON.parse((await store.read(`${prefix}model.json`)).toString('utf8'));
}

describe('loadModel: stored bytes that are not a model are a permanent error, a missing file stays NotFound', () => {
  it('loads a saved model', async () => {
    await savedModel('good/');
    const model = await loadModel(store, 'good/');
    expect(model.outputs[0]!.shape).toEqual([null, 1]);
    model.dispose();
  });

  it.each([
    ['bad JSON', () => '{"modelTopology": ', /not JSON/],
    [
      'no weightsManifest',
      (m: Record<string, unknown>) => JSON.stringify({ ...m, weightsManifest: undefined }),
      /no weightsManifest/,
    ],
    [
      'a weightsManifest of the wrong shape',
      (m: Record<string, unknown>) => JSON.stringify({ ...m, weightsManifest: [{ paths: 3 }] }),
      /no weightsManifest/,
    ],
    [
      'a topology tfjs refuses',
      (m: Record<string, unknown>) =>
        JSON.stringify({ ...m, modelTopology: { class_name: 'NoSuchModel', config: {} } }),
      /not a usable model/,
    ],
  ] as const)('%s', async (name, corrupt, message) => {
    const prefix = `${name.replace(/\W+/g, '-')}/`;
    const modelJson = await savedModel(prefix);
    await store.write(`${prefix}model.json`, corrupt(modelJson));
    const error = await loadModel(store, prefix).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptModelError);
    expect(isPermanent(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain(`${prefix}model.json`);
  });

  it('a missing model.json is NotFound, not corrupt', async () => {
    await expect(loadModel(store, 'nothing-here/')).rejects.toBeInstanceOf(NotFoundError);
  });
});
