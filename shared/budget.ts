import { InputError } from './errors.ts';
import { formatDuration, type GridEstimate } from './estimate.ts';
import type { Settings } from './settings.ts';

// Bounded spend: what one run and one UTC day may spend on training jobs, in accelerator-hours, checked at ingest
// against the grid's estimate (an upper bound: every config to its epoch limit, on the CPU basis of
// shared/estimate.ts, so a GPU job spends less than it is charged here). Pure arithmetic.

type BudgetSettings = Pick<
  Settings,
  | 'TRENDCAST_MAX_RUN_HOURS'
  | 'TRENDCAST_MAX_DAILY_HOURS'
  | 'TRENDCAST_BACKEND'
  | 'TRENDCAST_ACCELERATOR_TYPE'
  | 'TRENDCAST_ACCELERATOR_COUNT'
  | 'TRENDCAST_JOB_TIMEOUT_MINUTES'
  | 'TRENDCAST_RUN_DEADLINE_MINUTES'
>;

/** Accelerators one job holds: its GPUs on Vertex AI with an accelerator, else one machine (counted as one). */
export const acceleratorsPerJob = (settings: BudgetSettings) =>
  settings.TRENDCAST_BACKEND === 'gcp' && settings.TRENDCAST_ACCELERATOR_TYPE !== 'NONE'
    ? Math.max(1, settings.TRENDCAST_ACCELERATOR_COUNT)
    : 1;

/** One trial's accelerator-hours from its estimated seconds. */
export const trialHours = (seconds: number, settings: BudgetSettings) =>
  (seconds / 3600) * acceleratorsPerJob(settings);

/** A run's accelerator-hours: the sum over its trials (they may run at once, but each holds its own accelerators). */
export const runHours = (estimate: GridEstimate, settings: BudgetSettings) =>
  estimate.trials.reduce((sum, t) => sum + trialHours(t.seconds, settings), 0);

const hoursText = (hours: number) => `${hours.toFixed(1)} accelerator-hours`;

/** Refuses a run whose estimate is over TRENDCAST_MAX_RUN_HOURS, naming both numbers and how to lower it. */
export function checkRunBudget(hours: number, settings: BudgetSettings, where: string): void {
  if (hours <= settings.TRENDCAST_MAX_RUN_HOURS) return;
  throw new InputError(
    `${where}: the grid is estimated at ${hoursText(hours)}, over the run limit of ${settings.TRENDCAST_MAX_RUN_HOURS} ` +
      '(TRENDCAST_MAX_RUN_HOURS); lower the estimate with fewer configs, fewer epochs or folds, smaller layers, ' +
      'a shorter history or a coarser timeframe',
  );
}

/** The UTC day of an ISO time, `YYYY-MM-DD`, and the start of the next one. */
export const utcDay = (iso: string) => iso.slice(0, 10);
export const nextUtcDay = (iso: string) =>
  new Date(Date.parse(`${utcDay(iso)}T00:00:00Z`) + 86_400_000).toISOString();

/**
 * When a run may start its jobs: now (null) when its hours fit what is left of today's TRENDCAST_MAX_DAILY_HOURS after
 * `committedToday` (the hours of jobs started today and of trials admitted for today), else the next UTC day, with
 * the reason to put on the run. A run larger than a whole day's budget still starts on the next day, alone.
 */
export function dailyHold(
  hours: number,
  committedToday: number,
  settings: BudgetSettings,
  now: string,
): { notBefore: string; reason: string } | null {
  const limit = settings.TRENDCAST_MAX_DAILY_HOURS;
  if (committedToday + hours <= limit) return null;
  const notBefore = nextUtcDay(now);
  return {
    notBefore,
    reason:
      `waiting for the next day's training budget: this run's ${hoursText(hours)} and the ${committedToday.toFixed(1)} ` +
      `already committed today pass the daily limit of ${limit} (TRENDCAST_MAX_DAILY_HOURS); its jobs start after ${notBefore}`,
  };
}

/** Whether a queued trial may start at `now`: not while a daily-budget hold is on it. */
export const mayStartNow = (trial: { notBefore?: string | null }, now: string) =>
  !trial.notBefore || trial.notBefore <= now;

/**
 * How long one job may run before Vertex AI stops it: TRENDCAST_JOB_TIMEOUT_MINUTES when set, else three times the
 * trial's own estimate with a floor of 30 minutes (start-up and a slow first epoch), never past the run's deadline.
 */
export function jobTimeoutSeconds(settings: BudgetSettings, estimatedSeconds?: number): number {
  if (settings.TRENDCAST_JOB_TIMEOUT_MINUTES) return Math.round(60 * settings.TRENDCAST_JOB_TIMEOUT_MINUTES);
  const deadline = 60 * settings.TRENDCAST_RUN_DEADLINE_MINUTES;
  if (estimatedSeconds === undefined) return Math.round(deadline);
  return Math.round(
    Math.min(deadline, Math.max(JOB_TIMEOUT_FLOOR_SECONDS, JOB_TIMEOUT_MULTIPLE * estimatedSeconds)),
  );
}
export const JOB_TIMEOUT_MULTIPLE = 3;
export const JOB_TIMEOUT_FLOOR_SECONDS = 30 * 60;

/** Seconds the trials' jobs have run: from each start to its end (or to `now` while it runs). */
export function jobSeconds(
  trials: ReadonlyArray<{ startedAt: string | null; jobEndedAt?: string | null; finishedAt: string | null }>,
  now: string,
): number {
  return trials.reduce((sum, t) => {
    if (!t.startedAt) return sum;
    const end = t.jobEndedAt ?? t.finishedAt ?? now;
    return sum + Math.max(0, Date.parse(end) - Date.parse(t.startedAt)) / 1000;
  }, 0);
}

/** A run's budget in one line: its estimate, the limits it was checked against, and what its jobs actually ran. */
export function budgetLine(
  budget: { estimateHours: number; runLimitHours: number; dailyLimitHours: number },
  actualSeconds: number,
): string {
  return (
    `estimated ${hoursText(budget.estimateHours)} (run limit ${budget.runLimitHours}, daily limit ${budget.dailyLimitHours}); ` +
    `jobs ran ${formatDuration(actualSeconds)}`
  );
}
