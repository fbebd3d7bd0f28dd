import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { progressLine } from '../../cli/commands/run.ts';
import { runSummary } from '../../cli/format.ts';
import { ingest } from '../../functions/ingest.ts';
import { launcher } from '../../functions/launcher.ts';
import { sweeper } from '../../functions/sweeper.ts';
import { DEFAULT_GRID } from '../../shared/config.ts';
import type { TrialProgress } from '../../shared/documents.ts';
import {
  coarserTimeframe,
  estimateGrid,
  estimateWarning,
  formatDuration,
  lstmFlopsPerWindow,
  planRun,
  secondsPerEpoch,
  steadySecondsPerEpoch,
  trainingPace,
  trainsOnGpu,
  WASM_CALIBRATION,
} from '../../shared/estimate.ts';
import { PATHS, TOPICS, TRIAL_FILES } from '../../shared/names.ts';
import { readRun, readTrial, readTrials } from '../../shared/records.ts';
import { deriveRunId } from '../../shared/run-id.ts';
import { readSettings } from '../../shared/settings.ts';
import { REFERENCE_CSV } from '../helpers/cli.ts';
import { localDeps, objectFinalized } from '../helpers/deps.ts';
import { intradayCsv } from '../helpers/intraday.ts';
import { TestPlatform } from '../helpers/platform.ts';

const [config1, config2, config3] = DEFAULT_GRID.configs as [
  (typeof DEFAULT_GRID.configs)[0],
  (typeof DEFAULT_GRID.configs)[0],
  (typeof DEFAULT_GRID.configs)[0],
];
const shape = { sequenceLength: 60, features: 27 };
const reference = { ...shape, train: 110, validation: 28 };
/** A year of 5-minute bars (bench/RESULTS.md): 14,616 training and 3,654 validation windows. */
const fiveMinuteYear = { ...shape, train: 14_616, validation: 3_654 };

describe('the FLOP count of the LSTM stack', () => {
  it("counts config_1's forward and training products by hand", () => {
    // forward per step: 2·4U·(in + U) for 27→128, 128→64, 64→32
    const forward = 2 * 512 * (27 + 128) + 2 * 256 * (128 + 64) + 2 * 128 * (64 + 32);
    // backward: dW and dR and dh, plus dx for all but the first layer
    const backward = 2 * 512 * (27 + 2 * 128) + 2 * 256 * (2 * 128 + 2 * 64) + 2 * 128 * (2 * 64 + 2 * 32);
    expect(lstmFlopsPerWindow(config1.lstmUnits, shape)).toEqual({
      forward: 60 * forward,
      training: 60 * (forward + backward),
    });
    // bench/RESULTS.md's "0.81 GFLOP per batch" of 16 windows, to 5%
    expect((16 * lstmFlopsPerWindow(config1.lstmUnits, shape).training) / 1e9).toBeCloseTo(0.8, 1);
  });
});

describe('seconds per epoch on the CPU (wasm) backend', () => {
  // The measured figures the calibration comes from (bench/RESULTS.md, "Issue 24, speed part"): within 15%.
  it.each([
    ['config_1, reference dataset', config1, reference, 0.19],
    ['config_2, reference dataset', config2, reference, 0.6],
    ['config_3, reference dataset', config3, reference, 0.38],
    ['config_1, a year of 5-minute bars', config1, fiveMinuteYear, 24.1],
  ])('%s: measured %s s', (_name, config, data, measured) => {
    const estimate = secondsPerEpoch(config, data);
    expect(Math.abs(estimate / measured - 1)).toBeLessThan(0.15);
  });

  it('grows with the windows, the units and the batches', () => {
    const base = secondsPerEpoch(config1, reference);
    expect(secondsPerEpoch(config1, { ...reference, train: 220 })).toBeGreaterThan(1.9 * base);
    expect(secondsPerEpoch(config2, reference)).toBeGreaterThan(base);
    expect(secondsPerEpoch({ ...config1, batchSize: 4 }, reference)).toBeGreaterThan(base);
  });
});

describe('the grid estimate', () => {
  const trials = [
    { name: 'a', lstmUnits: [64, 32, 16] as [number, number, number], batchSize: 16, epochs: 10 },
    { name: 'b', lstmUnits: [128, 64, 32] as [number, number, number], batchSize: 16, epochs: 10 },
    { name: 'c', lstmUnits: [64, 32, 16] as [number, number, number], batchSize: 16, epochs: 20 },
  ];
  const data = { folds: [{ train: 110, validation: 28 }], ...shape };

  it('is every config to its epoch limit, started in grid order on the first free slot', () => {
    const one = estimateGrid(trials, data, 1);
    const [a, b, c] = one.trials.map((t) => t.seconds) as [number, number, number];
    const start = WASM_CALIBRATION.trialSeconds;
    expect(a).toBeCloseTo(start + 10 * secondsPerEpoch(trials[0]!, reference), 9);
    expect(c - start).toBeCloseTo(2 * (a - start), 9);
    expect(one.seconds).toBeCloseTo(a + b + c, 9);
    // two slots: a and b start at once, c takes a's slot when a ends (a < b)
    const two = estimateGrid(trials, data, 2);
    expect(a).toBeLessThan(b);
    expect(two.seconds).toBeCloseTo(Math.max(a + c, b), 9);
    // more slots than trials: the longest trial
    expect(estimateGrid(trials, data, 8).seconds).toBeCloseTo(Math.max(a, b, c), 9);
  });

  it('adds every walk-forward fold, each on the windows before its block', () => {
    const folds = [
      { train: 82, validation: 28 },
      { train: 110, validation: 28 },
    ];
    const estimate = estimateGrid([trials[0]!], { folds, ...shape }, 1);
    const perEpoch = (train: number) => secondsPerEpoch(trials[0]!, { ...shape, train, validation: 28 });
    expect(estimate.seconds).toBeCloseTo(
      WASM_CALIBRATION.trialSeconds + 10 * (perEpoch(82) + perEpoch(110)),
      9,
    );
    expect(estimate.trials[0]!.secondsPerEpoch).toBe(perEpoch(110));
  });
});

describe('the warning', () => {
  const yearEstimate = estimateGrid(DEFAULT_GRID.configs, { folds: [fiveMinuteYear], ...shape }, 2);

  it('names the time, the backend, the GPU path and a coarser timeframe', () => {
    const warning = estimateWarning(yearEstimate, '5m', 3600);
    expect(warning).toMatch(/^this grid may take up to \d+ h( \d+ min)? on the CPU \(wasm\) backend/);
    expect(warning).toMatch(/3 configs to their epoch limits, 2 at a time/);
    expect(warning).toMatch(/train on the GPU \(Vertex AI, T4\), which is much faster/);
    expect(warning).toMatch(/use a coarser timeframe \(e\.g\. 1h instead of 5m\)$/);
  });

  it('is absent under the limit, and for jobs on a GPU', () => {
    expect(estimateWarning(yearEstimate, '5m', yearEstimate.seconds)).toBeNull();
    const grid = { configs: DEFAULT_GRID.configs, folds: [{ start: 14_616, end: 18_270 }] };
    const dataset = { timeframe: '5m', ...shape };
    const where = { trialsAtOnce: 1, warnSeconds: 3600 };
    expect(planRun(grid, dataset, { ...where, onGpu: true }).warnings).toEqual([]);
    const onCpu = planRun(grid, dataset, { ...where, onGpu: false });
    expect(onCpu.warnings).toHaveLength(1);
    expect(onCpu.estimate.basis).toBe('the CPU (wasm) backend');
  });

  it('suggests an order of magnitude fewer bars, or a shorter history above a day', () => {
    expect(['1m', '15m', '4h', '1d', '1w', '1mo'].map(coarserTimeframe)).toEqual([
      '1h',
      '1h',
      '1d',
      null,
      null,
      null,
    ]);
    expect(estimateWarning(yearEstimate, '1d', 60)).toMatch(/use a shorter history or fewer epochs$/);
  });

  it('trains on a GPU only on Vertex AI with an accelerator', () => {
    const settings = (env: Record<string, string>) => readSettings(env);
    expect(trainsOnGpu(settings({}))).toBe(false);
    expect(trainsOnGpu(settings({ TRENDCAST_BACKEND: 'gcp' }))).toBe(true);
    expect(trainsOnGpu(settings({ TRENDCAST_BACKEND: 'gcp', TRENDCAST_ACCELERATOR_TYPE: 'NONE' }))).toBe(
      false,
    );
    expect(trainsOnGpu(settings({ TRENDCAST_BACKEND: 'gcp', TRENDCAST_ACCELERATOR_COUNT: '0' }))).toBe(false);
  });
});

describe("a trial's pace", () => {
  it('leaves out the first epoch once there are others, and averages the last few', () => {
    expect(steadySecondsPerEpoch([])).toBe(0);
    expect(steadySecondsPerEpoch([9])).toBe(9);
    expect(steadySecondsPerEpoch([9, 2, 4])).toBe(3);
    expect(steadySecondsPerEpoch([9, 100, 2, 4], 2)).toBe(3);
  });

  it('gives the time left to the epoch limit, later folds included', () => {
    expect(trainingPace([9, 2, 4], { epoch: 3, epochs: 10 })).toEqual({
      secondsPerEpoch: 3,
      remainingSeconds: 21,
    });
    expect(trainingPace([9, 2, 4], { epoch: 10, epochs: 10 }).remainingSeconds).toBe(0);
    expect(trainingPace([9, 2, 4], { epoch: 3, epochs: 10, fold: 1, folds: 3 }).remainingSeconds).toBe(
      3 * (7 + 20),
    );
  });

  it('reads as people plan', () => {
    expect([0, 44.6, 60, 719, 3600, 19_200, 19_230].map(formatDuration)).toEqual([
      '0 s',
      '45 s',
      '1 min',
      '12 min',
      '1 h',
      '5 h 20 min',
      '5 h 21 min',
    ]);
  });

  it('is on every progress line of `trendcast run`', () => {
    const line = progressLine({
      event: 'epoch',
      runId: 'r',
      config: 'config_1_baseline',
      epoch: 3,
      epochs: 150,
      loss: 0.69,
      valLoss: 0.7,
      bestValLoss: 0.68,
      lr: 0.001,
      seconds: 0.5,
      secondsPerEpoch: 0.48,
      remainingSeconds: 70.56,
    });
    expect(line).toMatch(/epoch {3}3\/150 .* 0\.48 s\/epoch {2}left <= 1 min$/);
  });
});

/** Drops a CSV into a fresh local bucket and ingests it with the launcher subscribed; resolves to the run's id. */
async function ingested(
  csv: Buffer | string,
  options: { capacity?: number; settings?: Record<string, string> } = {},
) {
  const platform = new TestPlatform(options.capacity ?? 2);
  const deps = localDeps({ prefix: 'estimate-', launcher: platform, settings: options.settings ?? {} });
  deps.bus.subscribe(TOPICS.trainingRequests, (e) => launcher(e, deps));
  const object = 'incoming/prices.csv';
  await deps.store.write(object, csv);
  await ingest(objectFinalized(object), deps);
  await deps.bus.idle();
  return { deps, runId: deriveRunId('local', object, '1') };
}

describe('ingest', () => {
  it('estimates the reference CSV at minutes, and does not warn', async () => {
    const { deps, runId } = await ingested(readFileSync(REFERENCE_CSV));
    const run = (await readRun(deps.docs, runId))!;
    expect(run.status).toBe('training');
    expect(run.warnings).toEqual([]);
    expect(run.estimate).toMatchObject({ basis: 'the CPU (wasm) backend', trialsAtOnce: 2 });
    expect(run.estimate!.trials.map((t) => t.config)).toEqual(DEFAULT_GRID.configs.map((c) => c.name));
    // 150 epochs of each of the three configs at about 0.5-1 s each, two at a time
    expect(run.estimate!.seconds).toBeGreaterThan(60);
    expect(run.estimate!.seconds).toBeLessThan(3600);
    expect(runSummary(run, await readTrials(deps.docs, runId))).toMatch(
      /^estimate: up to \d+ min on the CPU \(wasm\) backend, 2 trial\(s\) at a time/m,
    );
  });

  it('warns in the run document when a year of 5-minute bars would take hours, and still trains', async () => {
    const { deps, runId } = await ingested(intradayCsv());
    const run = (await readRun(deps.docs, runId))!;
    expect(run.timeframe).toBe('5m');
    expect(run.dataset?.counts).toMatchObject({ train: 14_616, validation: 3_654 });
    expect(run.status).toBe('training');
    expect(run.warnings).toHaveLength(1);
    expect(run.warnings![0]).toMatch(
      /^this grid may take up to \d+ h( \d+ min)? on the CPU \(wasm\) backend .*: train on the GPU \(Vertex AI, T4\), which is much faster, or use a coarser timeframe \(e\.g\. 1h instead of 5m\)$/,
    );
    expect(run.estimate!.seconds).toBeGreaterThan(3 * 3600);
    expect(runSummary(run, [])).toMatch(/^warning: this grid may take up to/m);
    // the same CSV with a higher limit, or on Vertex AI's GPUs: no warning
    const relaxed = await ingested(intradayCsv(), {
      settings: { TRENDCAST_ESTIMATE_WARN_MINUTES: String(Math.ceil(run.estimate!.seconds / 60)) },
    });
    expect((await readRun(relaxed.deps.docs, relaxed.runId))!.warnings).toEqual([]);
  }, 120_000);
});

describe('the sweeper', () => {
  const progress = (epoch: number): TrialProgress => ({
    epoch,
    epochs: 150,
    secondsPerEpoch: 0.5,
    remainingSeconds: 0.5 * (150 - epoch),
    updatedAt: new Date(Date.UTC(2026, 10, 25, 20, 0, epoch)).toISOString(),
  });

  it("copies a training trial's progress.json into its document, once per change", async () => {
    const { deps, runId } = await ingested(readFileSync(REFERENCE_CSV), { capacity: 1 });
    const [training, queued] = DEFAULT_GRID.configs.map((c) => c.name) as [string, string];
    expect((await readTrial(deps.docs, runId, training))!.status).toBe('training');
    expect((await readTrial(deps.docs, runId, queued))!.status).toBe('queued');
    const file = (config: string) => PATHS.trial(runId, config) + TRIAL_FILES.progress;

    expect((await sweeper(deps)).progressed).toBe(0); // nothing written yet
    await deps.store.write(file(training), JSON.stringify(progress(3)));
    await deps.store.write(file(queued), JSON.stringify(progress(9))); // not training: left alone
    expect((await sweeper(deps)).progressed).toBe(1);
    expect((await readTrial(deps.docs, runId, training))!.progress).toEqual(progress(3));
    expect((await readTrial(deps.docs, runId, queued))!.progress).toBeNull();
    expect((await sweeper(deps)).progressed).toBe(0); // unchanged

    await deps.store.write(file(training), JSON.stringify(progress(4)));
    expect((await sweeper(deps)).progressed).toBe(1);
    expect((await readTrial(deps.docs, runId, training))!.progress).toEqual(progress(4));
  });

  it('leaves the document as it was when progress.json is malformed, and says so', async () => {
    const warnings: string[] = [];
    const { deps, runId } = await ingested(readFileSync(REFERENCE_CSV), { capacity: 1 });
    deps.log = { ...deps.log, warn: (message: string) => warnings.push(message) };
    const training = DEFAULT_GRID.configs[0]!.name;
    const key = PATHS.trial(runId, training) + TRIAL_FILES.progress;
    await deps.store.write(key, JSON.stringify({ ...progress(3), epoch: 'three' }));
    expect((await sweeper(deps)).progressed).toBe(0);
    expect((await readTrial(deps.docs, runId, training))!.progress).toBeNull();
    expect(warnings.join('\n')).toMatch(new RegExp(`could not read ${key}: .*epoch`));
  });
});
