import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalDocumentStore } from '../../adapters/local/document-store.ts';
import { DEFAULT_GRID } from '../../shared/config.ts';
import { RunDoc, TrialDoc } from '../../shared/documents.ts';
import { DOCS } from '../../shared/names.ts';
import { readModel, readRuns, readTrials } from '../../shared/records.ts';
import { CLI, REFERENCE_CSV, trendcast } from '../helpers/cli.ts';

// The whole flow on the embedded default, through the real CLI and real trainer processes, epochs capped.
describe('trendcast run on the reference CSV (embedded default)', () => {
  const home = mkdtempSync(join(tmpdir(), 'e2e-'));
  const docs = new LocalDocumentStore(join(home, 'firestore'));
  let first: Awaited<ReturnType<typeof trendcast>>;

  beforeAll(async () => {
    first = await trendcast(['run', REFERENCE_CSV, '--epochs', '2', '--home', home]);
  }, 600_000);

  it('ends with three trained trials and a summary', async () => {
    expect(first.stderr).not.toMatch(/^error:/m);
    expect(first.code).toBe(0);
    const runs = await docs.list(DOCS.runs);
    expect(runs).toHaveLength(1);
    const run = RunDoc.parse(runs[0]!.data);
    expect(run.symbol).toBe('RELIANCE');
    expect(run.timeframe).toBe('1d');
    expect(run.dataset?.counts).toMatchObject({
      days: 247,
      rows: 197,
      windows: 138,
      train: 110,
      validation: 28,
      up: 72,
      down: 66,
    });
    expect(run.reason).toBeTruthy();
    // the seeded default grid is rejected here (its own test below says why); the rejection names the evidence
    // missing: the correct windows a trial would have needed. No model existed, so there was no champion.
    expect(run.status).toBe('rejected');
    expect(run.reason).toMatch(/needs \d+ of 28 correct to be distinguishable|would not be enough/);
    expect(run.champion).toBeNull();
    expect(run.ranking).toHaveLength(3);
    expect(first.stdout).toMatch(/config_2_deeper/);
    // progress: one line per epoch per trial
    for (const c of DEFAULT_GRID.configs) expect(first.stderr).toMatch(new RegExp(`${c.name}\\s+epoch +2/2`));
    // each progress line gives the trial's pace and the time left at it; the last epoch leaves nothing
    expect(first.stderr).toMatch(/epoch +1\/2 .* [\d.]+ s\/epoch {2}left <= \d+ s$/m);
    expect(first.stderr).toMatch(/epoch +2\/2 .* [\d.]+ s\/epoch {2}left <= 0 s$/m);
    // ingest's estimate of the grid, on one line before training and in the summary; no warning for this small CSV
    expect(run.estimate?.trials.map((t) => t.config)).toEqual(DEFAULT_GRID.configs.map((c) => c.name));
    expect(run.warnings).toEqual([]);
    expect(first.stderr).toMatch(/^estimate: up to \d+ s on the CPU \(wasm\) backend/m);
    expect(first.stdout).toMatch(/^estimate: up to /m);
    expect(first.stdout).toMatch(/\btime +s\/epoch$/m);

    const trials = (await docs.list(DOCS.trials(run.runId))).map((t) => TrialDoc.parse(t.data));
    expect(trials.map((t) => t.config)).toEqual(DEFAULT_GRID.configs.map((c) => c.name));
    for (const trial of trials) {
      expect(trial.status).toBe('succeeded');
      expect(trial.metrics?.epochsRun).toBe(2);
      expect(trial.metrics?.secondsPerEpoch).toBeGreaterThan(0);
      // the trainer's pace file, which the sweeper copies into a trial while it trains
      const pace = JSON.parse(
        readFileSync(join(home, 'bucket/runs', run.runId, 'trials', trial.config, 'progress.json'), 'utf8'),
      );
      expect(pace).toMatchObject({ epochs: 2 });
      for (const uri of Object.values(trial.artifacts!)) expect(existsSync(fileURLToPath(uri))).toBe(true);
    }
  });

  it('rejects the seeded default grid on the reference CSV, and writes no model', async () => {
    const run = RunDoc.parse((await docs.list(DOCS.runs))[0]!.data);
    expect(run.status).toBe('rejected');
    expect(run.promotion).toBeNull();
    expect(run.reason).toMatch(/no trial qualifies for promotion/);
    expect(run.ranking.every((r) => !r.eligible)).toBe(true);
    expect(first.stdout).toMatch(/^REJECTED: /m);
    expect(await docs.get(DOCS.model('RELIANCE', '1d'))).toBeUndefined();
    expect(existsSync(join(home, 'bucket/models'))).toBe(false);
  });

  it('gives the same decision and the same metrics in a fresh home (the default grid carries a seed)', async () => {
    const otherHome = mkdtempSync(join(tmpdir(), 'e2e-again-'));
    const second = await trendcast(['run', REFERENCE_CSV, '--epochs', '2', '--home', otherHome]);
    expect(second.code).toBe(0);
    const summary = async (d: LocalDocumentStore) => {
      const [run] = await readRuns(d);
      const trials = await readTrials(d, run!.runId);
      return {
        status: run!.status,
        reason: run!.reason,
        metrics: trials.map(({ config, metrics }) => {
          const { seconds: _seconds, secondsPerEpoch: _pace, ...rest } = metrics!;
          return { config, ...rest };
        }),
      };
    };
    const again = await summary(new LocalDocumentStore(join(otherHome, 'firestore')));
    expect(again).toEqual(await summary(docs));
  }, 600_000);

  it('gives one run when the same CSV is dropped twice', async () => {
    const again = await trendcast(['run', REFERENCE_CSV, '--epochs', '2', '--home', home]);
    expect(again.code).toBe(0);
    expect(await docs.list(DOCS.runs)).toHaveLength(1);
    const model = await readModel(docs, 'RELIANCE', '1d');
    expect(model?.history.length ?? 0).toBeLessThanOrEqual(1);
  });

  it('reports runs, trials and models with status --json', async () => {
    const status = await trendcast(['status', '--json', '--home', home]);
    expect(status.code).toBe(0);
    const json = JSON.parse(status.stdout);
    expect(json.runs).toHaveLength(1);
    expect(json.runs[0]).toMatchObject({ symbol: 'RELIANCE', timeframe: '1d' });
    expect(json.runs[0].trials).toHaveLength(3);
    expect(json.runs[0].trials[0].metrics).toHaveProperty('f1');
    expect(Array.isArray(json.models)).toBe(true);
  });

  it('turns a bad CSV into one failed run with the error, no dataset and no training', async () => {
    const bad = join(mkdtempSync(join(tmpdir(), 'bad-')), 'broken.csv');
    writeFileSync(bad, 'Date,Open,High,Low,Close,Volume\n2024-01-02,10,9,8,9.5,100\n');
    const result = await trendcast(['run', bad, '--home', home]);
    expect(result.code).toBe(2);
    expect(
      result.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('error:')),
    ).toHaveLength(1);
    expect(result.stderr).toMatch(/broken\.csv/);
    const failed = (await readRuns(docs)).filter((r) => r.status === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.error).toMatch(/broken\.csv/);
    expect(await docs.list(DOCS.trials(failed[0]!.runId))).toEqual([]);
    expect(existsSync(join(home, 'bucket/datasets', failed[0]!.runId))).toBe(false);
  });
});

describe('trendcast run with the gate off', () => {
  it('promotes the best F1 and puts the model where the model document says', async () => {
    const home = mkdtempSync(join(tmpdir(), 'e2e-gate-off-'));
    const grid = join(home, 'grid.json');
    writeFileSync(
      grid,
      JSON.stringify({
        gate: false,
        seed: 7,
        configs: [
          {
            name: 'tiny_a',
            lstmUnits: [4, 4, 4],
            dropout: 0.1,
            learningRate: 0.01,
            batchSize: 32,
            epochs: 2,
          },
          {
            name: 'tiny_b',
            lstmUnits: [8, 4, 4],
            dropout: 0.1,
            learningRate: 0.01,
            batchSize: 32,
            epochs: 2,
          },
        ],
      }),
    );
    const result = await trendcast(['run', REFERENCE_CSV, '--configs', grid, '--home', home]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^PROMOTED tiny_[ab] as RELIANCE 1d v1: /m);
    const docs = new LocalDocumentStore(join(home, 'firestore'));
    const [run] = await readRuns(docs);
    expect(run!.status).toBe('promoted');
    const trials = await readTrials(docs, run!.runId);
    // Best F1; ties (two tiny models can have the same F1) go to the higher AUC, then the lower validation loss.
    const best = [...trials].sort(
      (a, b) =>
        b.metrics!.f1 - a.metrics!.f1 ||
        (b.metrics!.auc ?? 0) - (a.metrics!.auc ?? 0) ||
        a.metrics!.valLoss - b.metrics!.valLoss,
    )[0]!;
    expect(run!.promotion).toMatchObject({ config: best.config, version: 1, f1: best.metrics!.f1 });
    const model = (await readModel(docs, 'RELIANCE', '1d'))!;
    expect(model.current).toMatchObject({ runId: run!.runId, config: best.config, version: 1 });
    expect(model.history).toHaveLength(1);
    const versionDir = fileURLToPath(model.current!.uri);
    expect(readdirSync(versionDir)).toContain('model.json');
    const pointer = JSON.parse(readFileSync(join(home, 'bucket/models/RELIANCE/1d/current.json'), 'utf8'));
    expect(pointer).toEqual(model.current);
  }, 300_000);
});

describe('trendcast watch', () => {
  it('ingests a CSV that appears in the local bucket and runs it to the end', async () => {
    const home = mkdtempSync(join(tmpdir(), 'watch-'));
    const watcher = spawn(process.execPath, [CLI, 'watch', '--home', home], { stdio: 'ignore' });
    try {
      const incoming = join(home, 'bucket/incoming');
      mkdirSync(incoming, { recursive: true });
      const grid = {
        gate: false,
        configs: [
          { name: 'tiny', lstmUnits: [4, 4, 4], dropout: 0.1, learningRate: 0.01, batchSize: 32, epochs: 1 },
        ],
      };
      writeFileSync(join(incoming, 'prices.grid.json'), JSON.stringify(grid));
      copyFileSync(REFERENCE_CSV, join(incoming, 'prices.csv'));
      const docs = new LocalDocumentStore(join(home, 'firestore'));
      const deadline = Date.now() + 120_000;
      let status: string | undefined;
      while (Date.now() < deadline) {
        status = (await readRuns(docs))[0]?.status;
        if (status === 'promoted' || status === 'rejected' || status === 'failed') break;
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(status).toBe('promoted');
    } finally {
      watcher.kill('SIGINT');
    }
  }, 180_000);
});
