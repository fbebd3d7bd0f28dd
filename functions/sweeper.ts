import { FINAL_TRIAL_STATUSES, type RunDoc, type TrialDoc } from '../shared/documents.ts';
import type { TrainingResult } from '../shared/messages.ts';
import { DOCS, TOPICS } from '../shared/names.ts';
import { nowIso } from './decode.ts';
import type { Deps } from './deps.ts';
import { writeRunReport } from './report.ts';

/**
 * Ends runs that passed their deadline (run on a schedule: Cloud Scheduler in the cloud, a timer locally).
 * A trial that never reported gets a failed result "timed out", published like any other result, so the collector
 * decides the run on the trials that finished. A run still ingesting at its deadline fails.
 * Idempotent: a second sweep publishes results the collector ignores (the trial is already final).
 */
export async function sweeper(deps: Deps, now = new Date()): Promise<{ timedOut: number }> {
  let timedOut = 0;
  for (const { data: run } of await deps.docs.list<RunDoc>(DOCS.runs)) {
    if (run.status !== 'ingesting' && run.status !== 'training') continue;
    if (new Date(run.deadline) > now) continue;
    const log = deps.log.child({ runId: run.runId });
    const trials = (await deps.docs.list<TrialDoc>(DOCS.trials(run.runId))).map((t) => t.data);
    if (run.status === 'ingesting' && trials.length === 0) {
      await deps.docs.runTransaction(async (tx) => {
        const current = await tx.get<RunDoc>(DOCS.run(run.runId));
        if (current?.status !== 'ingesting') return;
        const error = `timed out: ingest did not finish by the run deadline ${run.deadline}`;
        tx.set(DOCS.run(run.runId), {
          ...current,
          status: 'failed',
          error,
          finishedAt: nowIso(),
          updatedAt: nowIso(),
        });
      });
      log.warn('run failed: ingest did not finish by its deadline');
      await writeRunReport(run.runId, deps);
      continue;
    }
    for (const trial of trials.filter((t) => !FINAL_TRIAL_STATUSES.has(t.status))) {
      const result: TrainingResult = {
        status: 'failed',
        runId: run.runId,
        config: trial.config,
        error: `timed out: no result by the run deadline ${run.deadline} (trial was ${trial.status})`,
        finishedAt: nowIso(),
      };
      await deps.bus.publish(TOPICS.trainingResults, result, { runId: run.runId, config: trial.config });
      log.warn(`trial ${trial.config} timed out`);
      timedOut++;
    }
  }
  return { timedOut };
}
