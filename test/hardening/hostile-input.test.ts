import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ingest } from '../../functions/ingest.ts';
import { DEFAULT_GRID, MAX_EPOCH_PASSES, type TrainingConfig } from '../../shared/config.ts';
import { MAX_ERROR_CHARS } from '../../shared/errors.ts';
import { DOCS, TOPICS } from '../../shared/names.ts';
import { readRun } from '../../shared/records.ts';
import { deriveRunId } from '../../shared/run-id.ts';
import { trendcast } from '../helpers/cli.ts';
import { localDeps } from '../helpers/deps.ts';
import { type CorpusCase, HOSTILE, VALID } from '../helpers/hostile-corpus.ts';

const figures = { tried: 0, refusedCleanly: 0, acceptedCleanly: 0 };

function pipeline(settings: Record<string, string> = {}) {
  const deps = localDeps({ prefix: 'hostile-', settings, delivery: { backoffMs: 1, maxAttempts: 1 } });
  return { home: deps.home, deps, bus: deps.bus };
}

/** Drops one file into the local bucket and runs the ingest function on its object-finalized event. */
async function dropAndIngest(
  c: CorpusCase,
  objectName = `incoming/${c.name}`,
  settings: Record<string, string> = {},
) {
  const p = pipeline(settings);
  await p.deps.store.write(objectName, c.bytes);
  await ingest(
    {
      id: '1',
      type: 'google.cloud.storage.object.v1.finalized',
      source: '//storage.googleapis.com/projects/_/buckets/local',
      data: { bucket: 'local', name: objectName, generation: '1' },
    },
    p.deps,
  );
  const run = await readRun(p.deps.docs, deriveRunId('local', objectName, '1'));
  return { ...p, run };
}

describe('hostile input: every bad upload is refused with its reason and leaves nothing behind', () => {
  it.each(HOSTILE.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    figures.tried++;
    const { run, bus, home } = await dropAndIngest(c);
    expect(run?.status).toBe('failed');
    expect(run?.error).toContain(c.name);
    if (c.error) expect(run?.error).toMatch(c.error);
    expect(run?.error).not.toMatch(/\n|\bat .*\.ts:\d+/); // one line, no stack trace
    expect(run!.error!.length).toBeLessThanOrEqual(MAX_ERROR_CHARS);
    expect(bus.published.get(TOPICS.trainingRequests)).toBeUndefined();
    expect(existsSync(join(home, 'bucket/datasets'))).toBe(false);
    expect(existsSync(join(home, 'bucket/models'))).toBe(false);

    // The CLI says the same thing in one `error:` line, exit 2, and writes nothing.
    const dir = mkdtempSync(join(tmpdir(), 'hostile-cli-'));
    const file = join(dir, c.name);
    writeFileSync(file, c.bytes);
    const out = join(dir, 'out');
    const cli = await trendcast(['features', file, '--out', out]);
    expect(cli.code).toBe(2);
    expect(cli.stderr.trim().split('\n')).toHaveLength(1);
    expect(cli.stderr).toMatch(/^error: /);
    expect(cli.stderr.trim().length).toBeLessThanOrEqual(MAX_ERROR_CHARS);
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
    figures.refusedCleanly++;
  });

  it('refuses an upload over the size limit before reading it', async () => {
    figures.tried++;
    const { run, bus } = await dropAndIngest(VALID[0]!, 'incoming/big.csv', {
      TRENDCAST_MAX_UPLOAD_BYTES: '1000',
    });
    expect(run?.status).toBe('failed');
    expect(run?.error).toMatch(/over the upload limit of 1000 bytes/);
    expect(bus.published.get(TOPICS.trainingRequests)).toBeUndefined();
    figures.refusedCleanly++;
  });

  it('ignores objects outside incoming/ or not ending in .csv, including names with ".."', async () => {
    for (const name of [
      'incoming/../datasets/x.csv',
      'datasets/x.csv',
      'incoming/x.txt',
      'incoming/x.grid.json',
    ]) {
      figures.tried++;
      const p = pipeline();
      await ingest(
        {
          id: '1',
          type: 'google.cloud.storage.object.v1.finalized',
          source: 's',
          data: { bucket: 'local', name, generation: '1' },
        },
        p.deps,
      );
      expect(await p.deps.docs.list(DOCS.runs)).toEqual([]);
      figures.refusedCleanly++;
    }
  });
});

describe('grids over a limit are refused at ingest, before anything is queued', () => {
  const csv = VALID.find((c) => c.name === 'plain-ohlcv.csv')!;
  const config = (name: string, over: Partial<TrainingConfig> = {}): TrainingConfig => ({
    ...DEFAULT_GRID.configs[0]!,
    name,
    ...over,
  });
  /** Ingests the plain CSV with `grid` beside it. */
  async function withGrid(grid: unknown, settings: Record<string, string> = {}) {
    const p = pipeline(settings);
    await p.deps.store.write('incoming/plain-ohlcv.grid.json', JSON.stringify(grid));
    await p.deps.store.write('incoming/plain-ohlcv.csv', csv.bytes);
    await ingest(
      {
        id: '1',
        type: 'google.cloud.storage.object.v1.finalized',
        source: 's',
        data: { bucket: 'local', name: 'incoming/plain-ohlcv.csv', generation: '1' },
      },
      p.deps,
    );
    const run = await readRun(p.deps.docs, deriveRunId('local', 'incoming/plain-ohlcv.csv', '1'));
    return {
      run,
      published: p.bus.published.get(TOPICS.trainingRequests) ?? [],
      waiting: await p.deps.docs.list(DOCS.trainingQueue),
    };
  }
  const refused = async (grid: unknown, error: RegExp, settings: Record<string, string> = {}) => {
    figures.tried++;
    const { run, published, waiting } = await withGrid(grid, settings);
    expect(run?.status).toBe('failed');
    expect(run?.error).toMatch(error);
    expect(run!.error!.length).toBeLessThanOrEqual(MAX_ERROR_CHARS);
    expect(published).toEqual([]);
    expect(waiting).toEqual([]);
    figures.refusedCleanly++;
  };

  it('more configs than TRENDCAST_MAX_CONFIGS', async () => {
    const configs = Array.from({ length: 21 }, (_, i) => config(`c${i}`, { epochs: 1 }));
    await refused(
      { configs },
      /incoming\/plain-ohlcv\.grid\.json: 21 configs, over the limit of 20 \(TRENDCAST_MAX_CONFIGS\)/,
    );
    await refused({ configs: configs.slice(0, 3) }, /3 configs, over the limit of 2/, {
      TRENDCAST_MAX_CONFIGS: '2',
    });
  });

  it('patience over the epochs, and epochs × folds over the bound', async () => {
    await refused(
      { configs: [config('a', { epochs: 10, patience: 11 })] },
      /configs\.0\.patience.*patience 11 is more than the config's 10 epochs/,
    );
    await refused(
      { configs: [config('a', { epochs: 10_000 })], evaluation: { folds: 20 } },
      new RegExp(`200000 epoch passes, over the limit of ${MAX_EPOCH_PASSES}`),
    );
  });

  it('gate: false where TRENDCAST_ALLOW_GATE_OFF is off; allowed, the run says the gate is off and why', async () => {
    const grid = { gate: false, configs: [config('a', { epochs: 1 })] };
    await refused(
      grid,
      /"gate": false is not allowed in this deployment \(TRENDCAST_ALLOW_GATE_OFF is off\)/,
    );
    const allowed = await withGrid(grid, { TRENDCAST_ALLOW_GATE_OFF: '1' });
    expect(allowed.run?.status).toBe('training');
    expect(allowed.run?.gate).toBe(false);
    expect(allowed.run?.gateOff).toBe(
      'incoming/plain-ohlcv.grid.json sets "gate": false, allowed by TRENDCAST_ALLOW_GATE_OFF',
    );
    const on = await withGrid({ configs: [config('a', { epochs: 1 })] });
    expect(on.run?.gateOff).toBeNull();
  });
});

describe('valid variants are accepted', () => {
  it.each(VALID.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    figures.tried++;
    const { run, bus } = await dropAndIngest(c);
    expect(run?.error ?? null).toBeNull();
    expect(run?.status).toBe('training');
    expect(bus.published.get(TOPICS.trainingRequests)).toHaveLength(3);
    figures.acceptedCleanly++;
  });

  it('accepts object names with spaces and odd characters when a Symbol column names the symbol', async () => {
    figures.tried++;
    const withColumn = VALID.find((c) => c.name === 'symbol-column.csv')!;
    const { run } = await dropAndIngest(withColumn, "incoming/my export (1) ; $x 'q'.csv");
    expect(run?.status).toBe('training');
    expect(run?.symbol).toBe('TCS');
    figures.acceptedCleanly++;
    // Without one, the name is not reduced to a symbol (MYEXPORT1XQ) but refused with what to do.
    figures.tried++;
    const refused = await dropAndIngest(VALID[0]!, "incoming/my export (1) ; $x 'q'.csv");
    expect(refused.run?.status).toBe('failed');
    expect(refused.run?.error).toMatch(
      /is not a symbol.*name the file after the symbol.*or add a Symbol column/,
    );
    figures.refusedCleanly++;
  });
});

afterAll(() => {
  console.log(
    `hostile-input figures: ${figures.tried} inputs tried, ${figures.refusedCleanly} refused cleanly, ${figures.acceptedCleanly} valid accepted`,
  );
});
