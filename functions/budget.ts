import { utcDay } from '../shared/budget.ts';
import type { DocumentStore } from '../shared/ports.ts';
import { readRunsSince, readTrials } from '../shared/records.ts';

/**
 * Accelerator-hours committed on the UTC `day` of `now`: trials whose job started that day, and trials admitted to
 * start that day (queued or starting, without a hold past it), each at its run's estimate. Admitted trials count so
 * that uploads arriving together cannot each see the same unspent budget. Reads only the runs created since the
 * day's start less a run deadline (a query on createdAt): a job started today belongs to one of them.
 */
export async function hoursCommittedOn(
  docs: DocumentStore,
  now: string,
  runDeadlineMinutes: number,
  /** The run being admitted: a redelivered ingest must not count its own trials against itself. */
  exceptRunId: string,
): Promise<number> {
  const day = utcDay(now);
  const oldest = new Date(Date.parse(`${day}T00:00:00Z`) - runDeadlineMinutes * 60_000).toISOString();
  let total = 0;
  for (const run of await readRunsSince(docs, oldest)) {
    if (!run.budget || run.runId === exceptRunId) continue;
    for (const trial of await readTrials(docs, run.runId)) {
      const startedToday = trial.startedAt !== null && utcDay(trial.startedAt) === day;
      const admittedToday =
        (trial.status === 'queued' || trial.status === 'starting') &&
        (trial.notBefore === null || utcDay(trial.notBefore) <= day);
      if (startedToday || admittedToday) total += run.budget.trialHours[trial.config] ?? 0;
    }
  }
  return total;
}
