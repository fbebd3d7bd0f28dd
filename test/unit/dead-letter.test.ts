import { describe, expect, it } from 'vitest';
import { collector } from '../../functions/collector.ts';
import { deadLetter } from '../../functions/dead-letter.ts';
import { launcher } from '../../functions/launcher.ts';
import { DEFAULT_GRID } from '../../shared/config.ts';
import { DEAD_LETTER_TOPICS, DOCS, TOPICS } from '../../shared/names.ts';
import type { JobLauncher } from '../../shared/ports.ts';
import { readRun, readTrial } from '../../shared/records.ts';
import { localDeps } from '../helpers/deps.ts';
import { runDoc, trialDoc } from '../helpers/docs.ts';

describe('dead letters', () => {
  it('a request whose job never starts reaches the dead-letter topic, and its trial and run say so', async () => {
    let attempts = 0;
    // A job launcher (our own port) whose platform is down: every attempt fails with a transient error.
    const down: JobLauncher = {
      launch: async () => {
        attempts++;
        throw new Error('service unavailable');
      },
    };
    const deps = localDeps({ prefix: 'dlq-', launcher: down, delivery: { backoffMs: 1, maxAttempts: 3 } });
    const { bus } = deps;
    bus.subscribe(TOPICS.trainingRequests, (e) => launcher(e, deps));
    bus.subscribe(TOPICS.trainingResults, (e) => collector(e, deps));
    for (const topic of Object.values(DEAD_LETTER_TOPICS)) bus.subscribe(topic, (e) => deadLetter(e, deps));

    const runId = 'run-dead-letter';
    const config = DEFAULT_GRID.configs[0]!;
    await deps.docs.create(DOCS.run(runId), runDoc(runId, [config.name]));
    await deps.docs.create(
      DOCS.trial(runId, config.name),
      trialDoc(runId, config.name, { status: 'queued' }),
    );
    await bus.publish(TOPICS.trainingRequests, {
      runId,
      config,
      datasetUri: 'file:///nowhere/',
      outputUri: 'file:///nowhere/out/',
    });
    await bus.idle();

    expect(attempts).toBe(3);
    expect(bus.published.get(DEAD_LETTER_TOPICS.trainingRequests)).toHaveLength(1);
    const trial = (await readTrial(deps.docs, runId, config.name))!;
    expect(trial.status).toBe('failed');
    expect(trial.error).toBe(
      'training job could not be started: gave up after 3 delivery attempts (last error: service unavailable)',
    );
    const run = (await readRun(deps.docs, runId))!;
    expect(run.status).toBe('rejected');
    expect(run.reason).toMatch(/could not be started/);
  });
});
