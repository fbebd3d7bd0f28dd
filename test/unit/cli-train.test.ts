import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_GRID } from '../../shared/config.ts';
import { trendcast } from '../helpers/cli.ts';

describe('trendcast train on bad input', () => {
  it('a dataset that does not exist: exactly one stderr line, starting error:, and exit 2', async () => {
    const missing = `${pathToFileURL(join(mkdtempSync(join(tmpdir(), 'train-')), 'no-such-dataset')).href}/`;
    const request = {
      runId: 'run-missing',
      config: { ...DEFAULT_GRID.configs[0]!, epochs: 1 },
      datasetUri: missing,
      outputUri: `${missing}out/`,
    };
    const { code, stderr } = await trendcast(['train', '--request', JSON.stringify(request)]);
    expect(code).toBe(2);
    const lines = stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines).toEqual([`error: dataset ${missing}: dataset.json does not exist`]);
  });
});
