import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalDocumentStore } from '../../adapters/local/document-store.ts';
import { RunDoc, TrialDoc } from '../../shared/documents.ts';
import { DOCS } from '../../shared/names.ts';
import { REFERENCE_CSV, trendcast } from '../helpers/cli.ts';

const tiny = {
  name: 'tiny',
  lstmUnits: [4, 4, 4],
  dropout: 0.1,
  learningRate: 0.01,
  batchSize: 32,
  epochs: 1,
};

function setup(folds: number) {
  const home = mkdtempSync(join(tmpdir(), 'folds-'));
  const grid = join(home, 'grid.json');
  writeFileSync(grid, JSON.stringify({ gate: false, seed: 2, evaluation: { folds }, configs: [tiny] }));
  return { home, grid, docs: new LocalDocumentStore(join(home, 'firestore')) };
}

// Walk-forward folds on the embedded default, through the real CLI and trainer processes (one epoch per fold).
describe('walk-forward folds', () => {
  it('trains one model per fold, shows each in the progress, and pools every block into the metrics', async () => {
    const { home, grid, docs } = setup(3);
    const result = await trendcast(['run', REFERENCE_CSV, '--configs', grid, '--home', home]);
    expect(result.code).toBe(0);
    for (const fold of [1, 2, 3])
      expect(result.stderr).toMatch(new RegExp(`tiny\\s+fold ${fold}/3 epoch +1/1`));
    const run = RunDoc.parse((await docs.list(DOCS.runs))[0]!.data);
    expect(run.status).toBe('promoted');
    expect(run.evaluation?.folds).toBe(3);
    const m = TrialDoc.parse(await docs.get(DOCS.trial(run.runId, 'tiny'))).metrics!;
    expect(m.folds).toBe(3);
    expect(m.epochsRun).toBe(3);
    const { tp, fp, tn, fn } = m.confusion;
    expect(tp + fp + tn + fn).toBe(84); // three blocks of 28 windows: three times the evidence of one split
  }, 300_000);

  it('refuses more folds than the history holds before anything is trained', async () => {
    const { home, grid, docs } = setup(4);
    const result = await trendcast(['run', REFERENCE_CSV, '--configs', grid, '--home', home]);
    expect(result.code).toBe(2);
    const errors = result.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/evaluation\.folds: 4 test blocks of 28 windows .* use at most 3 folds/);
    const run = RunDoc.parse((await docs.list(DOCS.runs))[0]!.data);
    expect(run.status).toBe('failed');
    expect(await docs.list(DOCS.trials(run.runId))).toEqual([]);
  });
});
