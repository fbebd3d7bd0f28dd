import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalDocumentStore } from '../../adapters/local/document-store.ts';
import { LocalMessageBus } from '../../adapters/local/message-bus.ts';
import { LocalObjectStore } from '../../adapters/local/object-store.ts';
import { createLogger } from '../../adapters/log.ts';
import { collector } from '../../functions/collector.ts';
import { deadLetter } from '../../functions/dead-letter.ts';
import { launcher } from '../../functions/launcher.ts';
import { DEFAULT_GRID } from '../../shared/config.ts';
import type { RunDoc, TrialDoc } from '../../shared/documents.ts';
import { DEAD_LETTER_TOPICS, DOCS, TOPICS } from '../../shared/names.ts';
import type { Deps, JobLauncher } from '../../shared/ports.ts';
import { readSettings } from '../../shared/settings.ts';
import { runDoc, trialDoc } from '../helpers/docs.ts';

describe('dead letters', () => {
  it('a request whose job never starts reaches the dead-letter topic, and its trial and run say so', async () => {
    const home = mkdtempSync(join(tmpdir(), 'dlq-'));
    const bus = new LocalMessageBus({ backoffMs: 1, maxAttempts: 3 });
    let attempts = 0;
    // A job launcher (our own port) whose platform is down: every attempt fails with a transient error.
    const down: JobLauncher = {
      launch: async () => {
        attempts++;
        throw new Error('service unavailable');
      },
    };
    const deps: Deps = {
      store: new LocalObjectStore(join(home, 'bucket')),
      docs: new LocalDocumentStore(join(home, 'firestore')),
      bus,
      launcher: down,
      settings: readSettings({}),
      log: createLogger({}, { write: () => {} }),
    };
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
    const trial = (await deps.docs.get<TrialDoc>(DOCS.trial(runId, config.name)))!;
    expect(trial.status).toBe('failed');
    expect(trial.error).toBe(
      'training job could not be started: gave up after 3 delivery attempts (last error: service unavailable)',
    );
    const run = (await deps.docs.get<RunDoc>(DOCS.run(runId)))!;
    expect(run.status).toBe('rejected');
    expect(run.reason).toMatch(/could not be started/);
  });
});
