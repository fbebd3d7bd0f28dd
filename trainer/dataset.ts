import { openFolderUri } from '../adapters/object-stores.ts';
import { cutWindows } from '../shared/dataset.ts';
import { InputError, NotFoundError } from '../shared/errors.ts';
import { DatasetManifest, DatasetWindows } from '../shared/manifest.ts';
import { DATASET_FILES } from '../shared/names.ts';
import { decodeNpy } from '../shared/npy.ts';
import type { ObjectStore } from '../shared/ports.ts';
import { parseJson, parseWith } from '../shared/validate.ts';

/** Reads and checks a dataset folder written by `trendcast features` (or the ingest function). */
export async function loadDataset(datasetUri: string) {
  const { store, prefix } = await openFolderUri(datasetUri);
  return readDataset(store, prefix, datasetUri);
}

/** The same, from a folder of a store already open; `datasetUri` names it in errors. */
export async function readDataset(store: ObjectStore, prefix: string, datasetUri: string) {
  // A missing file is bad input (exit 2, the trial fails); any other read failure is transient and stays what it is.
  const read = async (name: string) => {
    try {
      return await store.read(prefix + name);
    } catch (error) {
      if (error instanceof NotFoundError)
        throw new InputError(`dataset ${datasetUri}: ${name} does not exist`, { cause: error });
      throw error;
    }
  };
  const manifest = parseWith(
    DatasetManifest,
    parseJson(
      (await read(DATASET_FILES.manifest)).toString('utf8'),
      `${datasetUri}${DATASET_FILES.manifest}`,
    ),
    `${datasetUri}${DATASET_FILES.manifest}`,
  );
  const matrix = decodeNpy(await read(DATASET_FILES.X), `${datasetUri}${DATASET_FILES.X}`);
  const y = decodeNpy(await read(DATASET_FILES.y), `${datasetUri}${DATASET_FILES.y}`);
  const bars = parseWith(
    DatasetWindows,
    parseJson((await read(DATASET_FILES.windows)).toString('utf8'), `${datasetUri}${DATASET_FILES.windows}`),
    `${datasetUri}${DATASET_FILES.windows}`,
  );
  const { rows, windows, train, validation } = manifest.counts;
  const L = manifest.sequenceLength;
  const F = manifest.features.length;
  if (matrix.dtype !== 'float32' || matrix.shape.join() !== [rows, F].join() || windows !== rows - L + 1) {
    throw new InputError(
      `dataset ${datasetUri}: X.npy is ${matrix.dtype} [${matrix.shape}], dataset.json says float32 [${rows}, ${F}] (${windows} windows of ${L})`,
    );
  }
  if (y.shape.join() !== String(windows) || train + validation !== windows || train < 1 || validation < 1) {
    throw new InputError(
      `dataset ${datasetUri}: y.npy [${y.shape}] does not match ${train} training + ${validation} validation windows`,
    );
  }
  const lengths = [bars.timestamp, bars.close, bars.nextTimestamp, bars.nextClose].map((a) => a.length);
  if (lengths.some((l) => l !== windows)) {
    throw new InputError(
      `dataset ${datasetUri}: windows.json lists [${lengths}] entries, dataset.json says ${windows} windows`,
    );
  }
  const featuresCsv = async () => (await read(DATASET_FILES.features)).toString('utf8');
  // X.npy holds the scaled rows once; the windows are cut here, where the model needs them.
  return {
    manifest,
    X: cutWindows(matrix.data as Float32Array, F, L),
    y: Float32Array.from(y.data),
    bars,
    featuresCsv,
  };
}

export type Dataset = Awaited<ReturnType<typeof readDataset>>;
