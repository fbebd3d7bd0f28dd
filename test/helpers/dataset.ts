import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildDataset, datasetFileBytes } from '../../shared/dataset.ts';
import { REFERENCE_CSV } from './cli.ts';

/**
 * Writes the reference CSV's dataset files into `dir`, as ingest would, with 20-row windows: the same features and
 * split rule, a smaller model input for quick trainers.
 */
export function writeReferenceDataset(dir: string): void {
  const { files } = buildDataset({
    bytes: readFileSync(REFERENCE_CSV),
    fileName: REFERENCE_CSV,
    sequenceLength: 20,
  });
  mkdirSync(dir, { recursive: true });
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), datasetFileBytes(data));
}
