import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runSummary } from '../../cli/format.ts';
import { ingest } from '../../functions/ingest.ts';
import { launcher } from '../../functions/launcher.ts';
import { dispatch } from '../../functions/queue.ts';
import { renderReport } from '../../report/render.ts';
import {
  checkRunBudget,
  dailyHold,
  jobTimeoutSeconds,
  mayStartNow,
  nextUtcDay,
  runHours,
} from '../../shared/budget.ts';
import { DEFAULT_GRID } from '../../shared/config.ts';
import { estimateGrid } from '../../shared/estimate.ts';
import { DOCS, TOPICS } from '../../shared/names.ts';
import { readRun, readTrials } from '../../shared/records.ts';
import { deriveRunId } from '../../shared/run-id.ts';
import { readSettings } from '../../shared/settings.ts';
import { REFERENCE_CSV } from '../helpers/cli.ts';
import { localDeps, objectFinalized } from '../helpers/deps.ts';
import { TestPlatform } from '../helpers/platform.ts';

const defaults = readSettings({});
const gcp = readSettings({ TRENDCAST_BACKEND: 'gcp', TRENDCAST_ACCELERATOR_COUNT: '2' });
/** A year of 5-minute bars (bench/RESULTS.md): 14,616 training and 3,654 validation windows. */
const fiveMinuteYear = { sequenceLength: 60, features: 27, folds: [{ train: 14_616, validation: 3_654 }] };

describe('the budget arithmetic', () => {
  const year = estimateGrid(DEFAULT_GRID.configs, fiveMinuteYear, 1);

  it('the default grid on a year of 5-minute bars fits the default run limit, on one GPU and on two', () => {
    const hours = runHours(year, defaults);
    expect(hours).toBeCloseTo(year.trials.reduce((s, t) => s + t.seconds, 0) / 3600, 9);
    expect(() => checkRunBudget(hours, defaults, 'x.csv')).not.toThrow();
    expect(runHours(year, gcp)).toBeCloseTo(2 * hours, 9); // two GPUs per job: twice the accelerator-hours
  });

  it('over the run limit: both numbers and how to lower the estimate', () => {
    expect(() => checkRunBudget(8.86, { ...defaults, TRENDCAST_MAX_RUN_HOURS: 2 }, 'incoming/X.csv')).toThrow(
      /^incoming\/X\.csv: the grid is estimated at 8\.9 accelerator-hours, over the run limit of 2 \(TRENDCAST_MAX_RUN_HOURS\); lower the estimate with fewer configs/,
    );
  });

  it('a day over its budget holds the run until the next UTC day', () => {
    const now = '2026-12-05T21:30:00.000Z';
    expect(dailyHold(10, 30, defaults, now)).toBeNull(); // 40 of 48
    const hold = dailyHold(10, 40, defaults, now)!;
    expect(hold.notBefore).toBe('2026-12-06T00:00:00.000Z');
    expect(hold.reason).toMatch(
      /this run's 10\.0 accelerator-hours and the 40\.0 already committed today pass the daily limit of 48 \(TRENDCAST_MAX_DAILY_HOURS\); its jobs start after 2026-12-06T00:00:00\.000Z/,
    );
    expect(mayStartNow({ notBefore: hold.notBefore }, now)).toBe(false);
    expect(mayStartNow({ notBefore: hold.notBefore }, '2026-12-06T00:00:01.000Z')).toBe(true);
    expect(mayStartNow({ notBefore: null }, now)).toBe(true);
    expect(nextUtcDay('2026-12-31T23:59:59.000Z')).toBe('2027-01-01T00:00:00.000Z');
  });

  it("a job's timeout is three times its own estimate, at least 30 min, at most the run deadline; the setting wins", () => {
    expect(jobTimeoutSeconds(defaults, 100)).toBe(1800);
    expect(jobTimeoutSeconds(defaults, 4 * 3600)).toBe(12 * 3600);
    expect(jobTimeoutSeconds(defaults, 20 * 3600)).toBe(24 * 3600);
    expect(jobTimeoutSeconds(defaults)).toBe(24 * 3600); // a request from before estimates
    expect(jobTimeoutSeconds({ ...defaults, TRENDCAST_JOB_TIMEOUT_MINUTES: 0.5 }, 4 * 3600)).toBe(30);
  });
});

describe('the budget at ingest', () => {
  async function ingested(name: string, deps: ReturnType<typeof localDeps>) {
    const object = `incoming/${name}`;
    await deps.store.write(object, readFileSync(REFERENCE_CSV));
    await ingest(objectFinalized(object), deps);
    await deps.bus.idle();
    return deriveRunId('local', object, '1');
  }
  const setup = (settings: Record<string, string>) => {
    const platform = new TestPlatform(6);
    const deps = localDeps({ prefix: 'budget-', launcher: platform, settings });
    deps.bus.subscribe(TOPICS.trainingRequests, (e) => launcher(e, deps));
    return { platform, deps };
  };

  it('a run over TRENDCAST_MAX_RUN_HOURS fails before anything is written or queued', async () => {
    const { platform, deps } = setup({ TRENDCAST_MAX_RUN_HOURS: '0.001' });
    const runId = await ingested('Quote-Equity-RELIANCE-EQ-x.csv', deps);
    const run = (await readRun(deps.docs, runId))!;
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/accelerator-hours, over the run limit of 0\.001 \(TRENDCAST_MAX_RUN_HOURS\)/);
    expect(await readTrials(deps.docs, runId)).toEqual([]);
    expect(await deps.store.list('datasets/')).toEqual([]);
    expect(platform.launches).toEqual([]);
  });

  it('a run past the day’s budget waits with the reason; its trials start only once the hold is over', async () => {
    // The reference CSV's default grid is estimated at a few minutes: a daily limit of 0.1 h fits one run, not two.
    const { platform, deps } = setup({ TRENDCAST_MAX_DAILY_HOURS: '0.1' });
    const first = await ingested('Quote-Equity-RELIANCE-EQ-a.csv', deps);
    const firstRun = (await readRun(deps.docs, first))!;
    expect(firstRun.budget).toMatchObject({ committedTodayHours: 0, notBefore: null, dailyLimitHours: 0.1 });
    expect(firstRun.budget!.estimateHours).toBeGreaterThan(0.05);
    expect(firstRun.waiting).toBeNull();
    expect(platform.launches).toHaveLength(3);

    const second = await ingested('Quote-Equity-RELIANCE-EQ-b.csv', deps);
    const run = (await readRun(deps.docs, second))!;
    expect(run.status).toBe('training');
    expect(run.waiting).toMatch(/^waiting for the next day's training budget: .*TRENDCAST_MAX_DAILY_HOURS/);
    expect(run.budget!.committedTodayHours).toBeCloseTo(firstRun.budget!.estimateHours, 9);
    // Its deadline counts from when its jobs may start (the default 24 h after the hold ends).
    expect(Date.parse(run.deadline) - Date.parse(run.budget!.notBefore!)).toBe(24 * 3600_000);
    const trials = await readTrials(deps.docs, second);
    expect(trials.map((t) => [t.status, t.notBefore])).toEqual(
      trials.map(() => ['queued', run.budget!.notBefore]),
    );
    expect(platform.launches).toHaveLength(3); // nothing of the second run started
    // Three slots are free, and the held trials still wait, in their places in the queue.
    expect(await dispatch(deps)).toBe(0);
    expect(await deps.docs.list(DOCS.trainingQueue)).toHaveLength(3);
    // Once the hold is over (its time moved into the past here), the next dispatch starts them.
    for (const trial of trials)
      await deps.docs.set(
        DOCS.trial(second, trial.config),
        { notBefore: '2000-01-01T00:00:00.000Z' },
        { merge: true },
      );
    expect(await dispatch(deps)).toBe(3);
    expect(platform.launches).toHaveLength(6);
    expect((await readRun(deps.docs, second))!.waiting).toBeNull();

    // `trendcast status` and the report show the estimate, the limits and the hours the jobs ran.
    const shown = (await readRun(deps.docs, second))!;
    const summary = runSummary(shown, await readTrials(deps.docs, second));
    expect(summary).toMatch(
      /^budget: estimated \d+\.\d accelerator-hours \(run limit 24, daily limit 0\.1\); jobs ran \d+ s$/m,
    );
    const html = await renderReport({ run: shown, trials: [] });
    expect(html).toMatch(
      /training budget<\/dt>\s*<dd[^>]*>estimated \d+\.\d accelerator-hours \(run limit 24, daily limit 0\.1\); jobs ran/,
    );
  });
});
