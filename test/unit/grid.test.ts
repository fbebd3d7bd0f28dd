import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gridFromOptions } from '../../cli/commands/run.ts';
import { DEFAULT_GRID, Grid } from '../../shared/config.ts';

const file = (content: unknown) => {
  const path = join(mkdtempSync(join(tmpdir(), 'grid-')), 'grid.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};

describe('grids are data', () => {
  it('the default grid is the three reference configs, gate on', () => {
    expect(
      Grid.parse(DEFAULT_GRID).configs.map((c) => [
        c.name,
        c.lstmUnits,
        c.dropout,
        c.learningRate,
        c.batchSize,
        c.epochs,
      ]),
    ).toEqual([
      ['config_1_baseline', [128, 64, 32], 0.3, 0.001, 16, 150],
      ['config_2_deeper', [256, 128, 64], 0.4, 0.0005, 16, 150],
      ['config_3_wider', [192, 96, 48], 0.35, 0.0008, 8, 150],
    ]);
    expect(DEFAULT_GRID.gate).toBe(true);
  });

  it('judges with the default evaluation unless the grid sets its own, and refuses a bad one by field', () => {
    const configs = DEFAULT_GRID.configs;
    expect(Grid.parse({ configs }).evaluation).toEqual({
      alpha: 0.05,
      threshold: 0.5,
      costBps: 10,
      allowShort: false,
      folds: 1,
    });
    expect(Grid.parse({ configs, evaluation: { alpha: 0.01, allowShort: true } }).evaluation).toEqual({
      alpha: 0.01,
      threshold: 0.5,
      costBps: 10,
      allowShort: true,
      folds: 1,
    });
    const bad = Grid.safeParse({ configs, evaluation: { alpha: 0, costbps: 5 } });
    expect(bad.success).toBe(false);
    const paths = bad.error!.issues.map((i) => [i.path.join('.'), i.code]);
    expect(paths).toEqual(
      expect.arrayContaining([
        ['evaluation.alpha', 'too_small'],
        ['evaluation', 'unrecognized_keys'],
      ]),
    );
  });

  it('reads a grid file, as an object or a bare array, and caps epochs', async () => {
    const config = {
      name: 'small',
      lstmUnits: [8, 8, 8],
      dropout: 0.1,
      learningRate: 0.01,
      batchSize: 16,
      epochs: 50,
      patience: 5,
    };
    expect((await gridFromOptions({ configs: file({ configs: [config], gate: false }) }))?.gate).toBe(false);
    const capped = await gridFromOptions({ configs: file([config]), epochs: '3' });
    expect(capped?.configs[0]).toMatchObject({ name: 'small', epochs: 3, patience: 5 });
    expect(capped?.gate).toBe(true);
  });

  it('refuses a bad grid field by field, naming the file and the field', async () => {
    const bad = file({
      configs: [
        { name: 'a b', lstmUnits: [8, 8], dropout: 1.5, learningRate: 0.01, batchSize: 16, epochs: 5 },
        {
          name: 'ok',
          lstmUnits: [8, 8, 8],
          dropout: 0.1,
          learningRate: -1,
          batchSize: 16,
          epochs: 5,
          extra: 1,
        },
      ],
    });
    const error = await gridFromOptions({ configs: bad }).catch((e: Error) => e.message);
    expect(error).toMatch(/^.*grid\.json: /);
    expect(error).toMatch(/configs\.0\.name: letters, digits/);
    expect(error).toMatch(/configs\.0\.lstmUnits/);
    expect(error).toMatch(/configs\.0\.dropout/);
    expect(error).toMatch(/configs\.1\.learningRate/);
    expect(error).toMatch(/configs\.1: Unrecognized key: "extra"/);
  });

  it('refuses duplicate config names, non-JSON, and a bad --epochs', async () => {
    const c = { name: 'x', lstmUnits: [8, 8, 8], dropout: 0.1, learningRate: 0.01, batchSize: 16, epochs: 5 };
    await expect(gridFromOptions({ configs: file([c, c]) })).rejects.toThrow(
      /configs\.1\.name: duplicate config name "x"/,
    );
    await expect(gridFromOptions({ configs: file('{nope') })).rejects.toThrow(/grid\.json: not valid JSON/);
    await expect(gridFromOptions({ epochs: '0' })).rejects.toThrow(
      /--epochs: "0" is not a positive whole number/,
    );
  });
});
