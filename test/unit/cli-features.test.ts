import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REFERENCE_CSV, trendcast } from '../helpers/cli.ts';

describe('trendcast features', () => {
  it('writes the dataset folder the trainer reads', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'features-')), 'ds');
    const r = await trendcast(['features', REFERENCE_CSV, '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /RELIANCE 1d: 247 bars, 197 rows, 138 windows \(110 train, 28 validation\), 72 up \/ 66 down/,
    );
    expect(readdirSync(out).sort()).toEqual([
      'X.npy',
      'dataset.json',
      'features.csv',
      'latest.json',
      'windows.json',
      'y.npy',
    ]);
    expect(JSON.parse(readFileSync(join(out, 'dataset.json'), 'utf8')).symbol).toBe('RELIANCE');
  });

  it('refuses bad input with one error line, exit 2, and nothing written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'features-bad-'));
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,abc,1000\n');
    const out = join(dir, 'out');
    const r = await trendcast(['features', bad, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: bad.csv, row 2, column "Close": "abc" is not a number\n');
    expect(existsSync(out)).toBe(false);
  });
});
