import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalDocumentStore } from '../../adapters/local/document-store.ts';
import { LocalMessageBus } from '../../adapters/local/message-bus.ts';
import { LocalObjectStore } from '../../adapters/local/object-store.ts';
import { createLogger } from '../../adapters/log.ts';
import { collector } from '../../functions/collector.ts';
import { forecaster } from '../../functions/forecast.ts';
import { failIngest, ingest } from '../../functions/ingest.ts';
import { writeRunReport } from '../../functions/report.ts';
import { sweeper } from '../../functions/sweeper.ts';
import { buildDataset, datasetFileBytes } from '../../shared/dataset.ts';
import type { CloudEventLike, StorageObjectData } from '../../shared/events.ts';
import type { TrialMetrics } from '../../shared/messages.ts';
import { DOCS, PATHS, REPORT, TOPICS } from '../../shared/names.ts';
import type { Deps } from '../../shared/ports.ts';
import { readRun } from '../../shared/records.ts';
import { deriveRunId } from '../../shared/run-id.ts';
import { readSettings } from '../../shared/settings.ts';
import { REFERENCE_CSV } from '../helpers/cli.ts';
import { idleLauncher } from '../helpers/deps.ts';
import { metrics, runDoc, succeeded, trialDoc } from '../helpers/docs.ts';

/** The local bucket, counting what is written to each key (the writes themselves are real). */
class CountingStore extends LocalObjectStore {
  readonly writes = new Map<string, number>();
  override async write(key: string, data: Buffer | string): Promise<void> {
    this.writes.set(key, (this.writes.get(key) ?? 0) + 1);
    return super.write(key, data);
  }
}

const reference = buildDataset({ bytes: readFileSync(REFERENCE_CSV), fileName: REFERENCE_CSV });

/** Every message delivered twice, as Pub/Sub may. */
function setup(runId = 'run-report-writer') {
  const home = mkdtempSync(join(tmpdir(), 'report-writer-'));
  const store = new CountingStore(join(home, 'bucket'));
  const docs = new LocalDocumentStore(join(home, 'firestore'));
  const bus = new LocalMessageBus({ backoffMs: 5, deliveries: 2 });
  const deps: Deps = {
    store,
    docs,
    bus,
    launcher: idleLauncher,
    settings: readSettings({}),
    log: createLogger({}, { write: () => {} }),
  };
  bus.subscribe(TOPICS.trainingResults, (e) => collector(e, deps));
  // The forecaster writes a decided run's report once the run's forecast is in.
  bus.subscribe(TOPICS.forecastRequests, (e) => forecaster(e, deps));
  return { deps, store, docs, bus, runId };
}

/** A training run with its dataset and each trial's artifacts as the trainer writes them. */
async function seedTrainingRun(s: ReturnType<typeof setup>, configs: string[]) {
  const { store, docs, runId } = s;
  const counts = reference.manifest.counts;
  await docs.create(
    DOCS.run(runId),
    runDoc(runId, configs, {
      dataset: {
        uri: store.baseUri + PATHS.dataset(runId),
        counts,
        upShare: counts.up / counts.windows,
        firstTimestamp: reference.manifest.firstTimestamp,
        lastTimestamp: reference.manifest.lastTimestamp,
      },
    }),
  );
  await store.write(`${PATHS.dataset(runId)}features.csv`, datasetFileBytes(reference.files['features.csv']));
  for (const c of configs) {
    await docs.create(DOCS.trial(runId, c), trialDoc(runId, c));
    const dir = PATHS.trial(runId, c);
    const labels = Array.from({ length: 28 }, (_, i) => i % 2);
    await store.write(
      `${dir}predictions.json`,
      JSON.stringify({ probabilities: labels.map((l) => 0.4 + l / 5), labels }),
    );
    await store.write(
      `${dir}history.json`,
      JSON.stringify(
        [1, 2, 3].map((epoch) => ({
          epoch,
          loss: 0.7,
          val_loss: 0.69,
          accuracy: 0.5,
          val_accuracy: 0.5,
          lr: 1e-3,
        })),
      ),
    );
    await store.write(`${dir}metrics.json`, JSON.stringify(metrics()));
    await store.write(`${dir}model.json`, 'not a model');
  }
}

async function deliverResults(s: ReturnType<typeof setup>, byConfig: Record<string, Partial<TrialMetrics>>) {
  const results = Object.entries(byConfig).map(([c, m]) => succeeded(s.runId, c, m, s.store.baseUri));
  // Every result published twice at once, each delivered twice: four deliveries of each, all concurrent.
  await Promise.all([...results, ...results].map((r) => s.bus.publish(TOPICS.trainingResults, r)));
  await s.bus.idle();
}

const reportWrites = (s: ReturnType<typeof setup>) => s.store.writes.get(REPORT.object(s.runId)) ?? 0;
const reportHtml = async (s: ReturnType<typeof setup>) =>
  (await s.store.read(REPORT.object(s.runId))).toString();

describe('writeRunReport, hooked into the collector and failIngest', () => {
  it('writes a promoted run’s report exactly once under duplicate concurrent deliveries, and sets reportUri', async () => {
    const s = setup();
    await seedTrainingRun(s, ['a', 'b', 'c']);
    await s.store.write(
      `${PATHS.trial(s.runId, 'c')}history.json`,
      JSON.stringify([{ epoch: 1, loss: 'x' }]),
    );
    await deliverResults(s, { a: { f1: 0.61 }, b: { f1: 0.72 }, c: { f1: 0.65 } });
    const run = (await readRun(s.docs, s.runId))!;
    expect(run.status).toBe('promoted');
    expect(run.reportUri).toBe(`${s.store.baseUri}${REPORT.object(s.runId)}`);
    expect(reportWrites(s)).toBe(1);
    const html = await reportHtml(s);
    expect(html).toContain('Promoted <b>b</b> as TEST 1d model v1');
    expect(html).toContain('data-chart="price"');
    expect(html.split('data-chart="roc"')).toHaveLength(4);
    // A broken artifact is said in the report, not fatal to it.
    expect(html).toContain('could not be read: model.json: not valid JSON');
    expect(html).toMatch(/could not be read: history\.json: 0\.loss: [^;<]*expected number/);
    expect(html.split('data-chart="learning-curves"')).toHaveLength(3);
  });

  it('writes a rejected run’s report exactly once', async () => {
    const s = setup('run-report-rejected');
    await seedTrainingRun(s, ['a', 'b']);
    await deliverResults(s, { a: { degenerate: true }, b: { accuracy: 0.5, baselineAccuracy: 0.55 } });
    const run = (await readRun(s.docs, s.runId))!;
    expect(run.status).toBe('rejected');
    expect(run.reportUri).toBeDefined();
    expect(reportWrites(s)).toBe(1);
    expect(await reportHtml(s)).toContain('Nothing was promoted: no trial qualifies for promotion');
  });

  it('writes a failed run’s report once, with the refused file, row and column', async () => {
    const s = setup();
    const key = 'incoming/bad.csv';
    await s.store.write(
      key,
      `Date,Open,High,Low,Close,Volume\n2024-01-01,10,11,9,10,100\n2024-01-02,10,11,9,10,-5\n`,
    );
    const event: CloudEventLike<StorageObjectData> = {
      id: 'e1',
      type: 'google.cloud.storage.object.v1.finalized',
      source: '//storage.googleapis.com/projects/_/buckets/local',
      data: { bucket: 'local', name: key, generation: '1' },
    };
    s.bus.deliver(
      (e) => ingest(e, s.deps),
      event,
      (error) => failIngest(event, s.deps, error),
    );
    await s.bus.idle();
    const runId = deriveRunId('local', key, '1');
    const run = (await readRun(s.docs, runId))!;
    expect(run.status).toBe('failed');
    expect(run.reportUri).toBe(`${s.store.baseUri}${REPORT.object(runId)}`);
    expect(s.store.writes.get(REPORT.object(runId))).toBe(1);
    const html = (await s.store.read(REPORT.object(runId))).toString();
    expect(html).toMatch(/<dt>file<\/dt><dd><code>bad\.csv<\/code><\/dd>/);
    expect(html).toMatch(/<dt>row<\/dt><dd>3<\/dd>/);
    expect(html).toMatch(/<dt>column<\/dt><dd>Volume<\/dd>/);
    expect(html).toContain('volume -5 is negative');
  });

  it('writes the report of a run the sweeper fails for an ingest that never finished', async () => {
    const s = setup('run-report-swept');
    await s.docs.create(
      DOCS.run(s.runId),
      runDoc(s.runId, [], { status: 'ingesting', deadline: '2025-01-01T00:00:00.000Z' }),
    );
    await sweeper(s.deps);
    const run = (await readRun(s.docs, s.runId))!;
    expect(run.status).toBe('failed');
    expect(run.reportUri).toBeDefined();
    expect(reportWrites(s)).toBe(1);
    expect(await reportHtml(s)).toContain('timed out: ingest did not finish by the run deadline');
  });

  it('writes nothing for a run that is not decided, or already has its report', async () => {
    const s = setup();
    await seedTrainingRun(s, ['a']);
    expect(await writeRunReport(s.runId, s.deps)).toBeUndefined();
    expect(await writeRunReport('run-missing', s.deps)).toBeUndefined();
    await s.docs.set(
      DOCS.run(s.runId),
      { status: 'rejected', reason: 'r', finishedAt: '2025-01-01T00:00:00Z' },
      { merge: true },
    );
    const uri = await writeRunReport(s.runId, s.deps);
    expect(uri).toBe(`${s.store.baseUri}${REPORT.object(s.runId)}`);
    expect(await writeRunReport(s.runId, s.deps)).toBe(uri);
    expect(reportWrites(s)).toBe(1);
  });

  it('leaves a fresh claim of another delivery alone, and takes over a stale one', async () => {
    const s = setup();
    await seedTrainingRun(s, ['a']);
    await s.docs.set(
      DOCS.run(s.runId),
      { status: 'rejected', reason: 'r', finishedAt: '2025-01-01T00:00:00Z' },
      { merge: true },
    );
    await s.docs.create(REPORT.claimDoc(s.runId), { runId: s.runId, claimedAt: new Date().toISOString() });
    expect(await writeRunReport(s.runId, s.deps)).toBeUndefined();
    expect(reportWrites(s)).toBe(0);
    // The claimer died: an hour later the next delivery writes the report.
    await s.docs.set(REPORT.claimDoc(s.runId), {
      runId: s.runId,
      claimedAt: new Date(Date.now() - 3600_000).toISOString(),
    });
    expect(await writeRunReport(s.runId, s.deps)).toBeDefined();
    expect(reportWrites(s)).toBe(1);
    expect((await readRun(s.docs, s.runId))!.reportUri).toBeDefined();
  });
});
