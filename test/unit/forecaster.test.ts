import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalDocumentStore } from '../../adapters/local/document-store.ts';
import { LocalMessageBus } from '../../adapters/local/message-bus.ts';
import { LocalObjectStore } from '../../adapters/local/object-store.ts';
import { createLogger } from '../../adapters/log.ts';
import { forecaster } from '../../functions/forecast.ts';
import { ForecastAttempt } from '../../shared/documents.ts';
import { DOCS, isForecastCsv, TOPICS } from '../../shared/names.ts';
import type { Deps } from '../../shared/ports.ts';
import { readSettings } from '../../shared/settings.ts';
import { idleLauncher } from '../helpers/deps.ts';
import { modelDoc, runDoc } from '../helpers/docs.ts';

function setup() {
  const home = mkdtempSync(join(tmpdir(), 'forecaster-'));
  const bus = new LocalMessageBus({ backoffMs: 5, maxAttempts: 2 });
  const deps: Deps = {
    store: new LocalObjectStore(join(home, 'bucket')),
    docs: new LocalDocumentStore(join(home, 'firestore')),
    bus,
    launcher: idleLauncher,
    settings: readSettings({}),
    log: createLogger({}, { write: () => {} }),
  };
  bus.subscribe(TOPICS.forecastRequests, (e) => forecaster(e, deps));
  return { deps, bus };
}

const attempts = async (deps: Deps) =>
  (await deps.docs.list(DOCS.forecastAttempts)).map((a) => ForecastAttempt.parse(a.data));

const model = modelDoc(1, 'a');

describe('forecaster', () => {
  it('after a run with no current model, forecasts nothing and records nothing', async () => {
    const { deps, bus } = setup();
    await deps.docs.create(DOCS.run('run-none'), runDoc('run-none', ['a'], { status: 'rejected' }));
    await bus.publish(TOPICS.forecastRequests, { kind: 'run', runId: 'run-none' });
    await bus.idle();
    expect(await attempts(deps)).toEqual([]);
    expect(await deps.docs.list(DOCS.forecasts)).toEqual([]);
  });

  it("records a failed attempt, once, when the current model's files are missing; the model is untouched", async () => {
    const { deps, bus } = setup();
    await deps.docs.create(DOCS.run('run-old-data'), runDoc('run-old-data', ['a'], { status: 'rejected' }));
    await deps.docs.set(DOCS.model('TEST', '1d'), model);
    await bus.publish(TOPICS.forecastRequests, { kind: 'run', runId: 'run-old-data' });
    await bus.publish(TOPICS.forecastRequests, { kind: 'run', runId: 'run-old-data' });
    await bus.idle();
    const [attempt, ...more] = await attempts(deps);
    expect(more).toEqual([]);
    expect(attempt).toMatchObject({ status: 'failed', runId: 'run-old-data', forecast: null });
    expect(attempt!.error).toBe('model TEST 1d v1: no model.json there');
    expect(await deps.docs.get(DOCS.model('TEST', '1d'))).toEqual(model);
  });

  it('records why a dropped CSV could not be forecast, naming the file', async () => {
    const { deps, bus } = setup();
    await deps.store.write('forecast/broken.csv', 'Date,Open\n2024-01-01,1\n');
    await bus.publish(TOPICS.forecastRequests, {
      kind: 'upload',
      bucket: 'local',
      object: 'forecast/broken.csv',
      generation: '1',
    });
    await bus.idle();
    const [attempt] = await attempts(deps);
    expect(attempt).toMatchObject({
      status: 'failed',
      runId: null,
      source: 'forecast/broken.csv',
      symbol: null,
    });
    expect(attempt!.error).toMatch(/^broken\.csv, row 1: /);
  });

  it('drops a malformed request instead of redelivering it forever', async () => {
    const { deps, bus } = setup();
    await bus.publish(TOPICS.forecastRequests, { kind: 'sometime' });
    await bus.idle();
    expect(await attempts(deps)).toEqual([]);
    expect(bus.published.get(`${TOPICS.forecastRequests}-dead-letter`)).toBeUndefined();
  });

  it('takes only CSVs under forecast/, never a path that escapes it', () => {
    expect(isForecastCsv('forecast/RELIANCE.csv')).toBe(true);
    expect(isForecastCsv('forecast/../incoming/x.csv')).toBe(false);
    expect(isForecastCsv('incoming/x.csv')).toBe(false);
    expect(isForecastCsv('forecast/notes.txt')).toBe(false);
  });
});
