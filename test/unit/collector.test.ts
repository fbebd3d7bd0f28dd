import { describe, expect, it } from 'vitest';
import { collector } from '../../functions/collector.ts';
import { sweeper } from '../../functions/sweeper.ts';
import { DOCS, PATHS, TOPICS } from '../../shared/names.ts';
import { readModel, readRun, readTrial, readTrials } from '../../shared/records.ts';
import { localDeps } from '../helpers/deps.ts';
import { modelDoc, runDoc, succeeded, trialDoc } from '../helpers/docs.ts';

async function setup(configs: string[], runId = 'run-collector') {
  const deps = localDeps({ prefix: 'collector-' });
  const { store, docs, bus } = deps;
  bus.subscribe(TOPICS.trainingResults, (e) => collector(e, deps));
  await docs.create(DOCS.run(runId), runDoc(runId, configs));
  for (const c of configs) {
    await docs.create(DOCS.trial(runId, c), trialDoc(runId, c));
    for (const f of ['model.json', 'weights.bin', 'metrics.json'])
      await store.write(`${PATHS.trial(runId, c)}${f}`, `${c} ${f}`);
  }
  return { deps, store, docs, bus, runId };
}

describe('collector', () => {
  it('promotes exactly once when every result arrives at the same moment, three times over', async () => {
    const { store, docs, bus, runId } = await setup(['a', 'b', 'c']);
    const results = [
      succeeded(runId, 'a', { f1: 0.61 }, store.baseUri),
      succeeded(runId, 'b', { f1: 0.72 }, store.baseUri),
      succeeded(runId, 'c', { f1: 0.65 }, store.baseUri),
    ];
    await Promise.all(
      [...results, ...results, ...results].map((r) => bus.publish(TOPICS.trainingResults, r)),
    );
    await bus.idle();

    const run = (await readRun(docs, runId))!;
    expect(run.status).toBe('promoted');
    expect(run.promotion).toMatchObject({ config: 'b', version: 1 });
    const model = (await readModel(docs, 'TEST', '1d'))!;
    expect(model.latestVersion).toBe(1);
    expect(model.history).toHaveLength(1);
    expect(model.current).toMatchObject({ config: 'b', version: 1, runId });
    expect(JSON.parse((await store.read('models/TEST/1d/current.json')).toString())).toEqual(model.current);
    expect(await store.list('models/TEST/1d/versions/v0001/')).toHaveLength(3);
    const trials = await readTrials(docs, runId);
    expect(trials.map((t) => t.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  });

  it('keeps the first result of a trial when a different one is redelivered', async () => {
    const { store, docs, bus, runId } = await setup(['a', 'b']);
    await bus.publish(TOPICS.trainingResults, succeeded(runId, 'a', { f1: 0.5 }, store.baseUri));
    await bus.idle();
    await bus.publish(TOPICS.trainingResults, succeeded(runId, 'a', { f1: 0.9 }, store.baseUri));
    await bus.idle();
    const a = (await readTrial(docs, runId, 'a'))!;
    expect(a.metrics?.f1).toBe(0.5);
    expect((await readRun(docs, runId))!.status).toBe('training');
  });

  it('rejects with the reason and leaves the current model alone when nothing qualifies', async () => {
    const { store, docs, bus, runId } = await setup(['a', 'b']);
    const previous = modelDoc(4, 'z');

    await docs.set(DOCS.model('TEST', '1d'), previous);
    await bus.publish(
      TOPICS.trainingResults,
      succeeded(runId, 'a', { f1: 0.73, degenerate: true }, store.baseUri),
    );
    await bus.publish(TOPICS.trainingResults, {
      status: 'failed',
      runId,
      config: 'b',
      error: 'trainer was killed by SIGKILL before reporting a result',
      finishedAt: new Date().toISOString(),
    });
    await bus.idle();
    const run = (await readRun(docs, runId))!;
    expect(run.status).toBe('rejected');
    expect(run.reason).toMatch(/a: degenerate.*b: failed: trainer was killed/);
    expect(await docs.get(DOCS.model('TEST', '1d'))).toEqual(previous);
    expect(await store.list('models/')).toEqual([]);
  });

  it('drops a malformed message instead of redelivering it forever', async () => {
    const { docs, bus, runId } = await setup(['a']);
    await bus.publish(TOPICS.trainingResults, { status: 'succeeded', runId, config: 'a' });
    await bus.idle();
    expect((await readTrial(docs, runId, 'a'))!.status).toBe('training');
    expect(bus.published.get(`${TOPICS.trainingResults}-dead-letter`)).toBeUndefined();
  });
});

describe('sweeper', () => {
  it('fails the trials that never reported once the deadline passes, and the run is decided on the rest', async () => {
    const { deps, store, docs, bus, runId } = await setup(['a', 'b', 'c']);
    await bus.publish(TOPICS.trainingResults, succeeded(runId, 'a', { f1: 0.6 }, store.baseUri));
    await bus.idle();
    expect((await sweeper(deps)).timedOut).toBe(0); // not yet past the deadline

    const later = new Date(Date.now() + 2 * 3600_000);
    expect((await sweeper(deps, { now: later })).timedOut).toBe(2);
    await bus.idle();
    const run = (await readRun(docs, runId))!;
    expect(run.status).toBe('promoted');
    expect(run.promotion?.config).toBe('a');
    const b = (await readTrial(docs, runId, 'b'))!;
    expect(b.status).toBe('failed');
    expect(b.error).toMatch(/^timed out: no result by the run deadline/);
    expect((await sweeper(deps, { now: later })).timedOut).toBe(0); // the run has ended: nothing more to sweep
  });

  it('fails a run stuck in ingesting past its deadline', async () => {
    const { deps, docs } = await setup([], 'run-stuck');
    await docs.set(
      DOCS.run('run-stuck'),
      runDoc('run-stuck', [], { status: 'ingesting', symbol: null, timeframe: null }),
    );
    await sweeper(deps, { now: new Date(Date.now() + 2 * 3600_000) });
    const run = (await readRun(docs, 'run-stuck'))!;
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/ingest did not finish/);
  });
});
