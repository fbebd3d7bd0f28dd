// Forecasts on the emulators, with the real event wiring: after a promoted run the forecaster writes the forecast
// document, and a CSV uploaded under forecast/ updates it without a run or a training job.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../adapters/log.ts';
import { type EmulatedCloud, startEmulatedCloud } from '../../emulators/cloud.ts';
import { emulatorSkipReason } from '../../emulators/harness.ts';
import { ForecastAttempt, ForecastDoc, ModelDoc, TrackRecord } from '../../shared/documents.ts';
import { DOCS, gridKeyFor, INDEX_PAGE, PATHS } from '../../shared/names.ts';
import { REFERENCE_CSV } from '../helpers/cli.ts';
import { CONTINUATION_NAME, continuationCsv } from '../helpers/continuation.ts';
import { until } from '../helpers/wait.ts';

const skip = emulatorSkipReason();

// The gate is off so the first run leaves a model to forecast with and to judge the next year's run against.
const TINY_GRID = {
  gate: false,
  seed: 5,
  configs: [
    { name: 'tiny', lstmUnits: [4, 4, 4], dropout: 0.1, learningRate: 0.01, batchSize: 32, epochs: 1 },
  ],
};

describe.skipIf(skip).sequential('forecasts on the emulators', () => {
  let cloud: EmulatedCloud;

  beforeAll(async () => {
    cloud = await startEmulatedCloud({
      log: createLogger({}, { json: true, write: () => {} }),
      settings: { TRENDCAST_ALLOW_GATE_OFF: '1' },
    });
  }, 180_000);

  afterAll(async () => {
    await cloud?.stop();
  });

  it('a promoted run writes the forecast of the bar after 11-Nov-2025', async () => {
    const key = `${PATHS.incomingPrefix}${basename(REFERENCE_CSV)}`;
    await cloud.upload(gridKeyFor(key), JSON.stringify(TINY_GRID));
    const runId = await cloud.upload(key, readFileSync(REFERENCE_CSV));
    const run = await cloud.waitForRun(runId, 300_000);
    expect(run.status).toBe('promoted');
    const forecast = await until(
      'the forecast',
      async () => ForecastDoc.safeParse(await cloud.deps.docs.get(DOCS.forecast('RELIANCE', '1d'))).data,
      60_000,
    );
    expect(forecast).toMatchObject({
      asOf: '2025-11-11',
      runId,
      modelVersion: 1,
      history: [expect.anything()],
    });
  }, 420_000);

  it('a CSV uploaded under forecast/ updates the forecast without training; a bad one is a failed attempt', async () => {
    const model = await cloud.deps.docs.get(DOCS.model('RELIANCE', '1d'));
    const runs = (await cloud.deps.docs.list(DOCS.runs)).length;
    const launched = cloud.deliveries.filter((d) => d.target === 'launcher').length;
    const key = `${PATHS.forecastPrefix}${basename(REFERENCE_CSV)}`;
    await cloud.upload(key, readFileSync(REFERENCE_CSV));
    const forecast = await until(
      'the dropped CSV to be forecast',
      async () => {
        const doc = ForecastDoc.parse(await cloud.deps.docs.get(DOCS.forecast('RELIANCE', '1d')));
        return doc.source === key ? doc : undefined;
      },
      60_000,
    );
    expect(forecast).toMatchObject({ asOf: '2025-11-11', runId: null, source: key, modelVersion: 1 });
    // The run's forecast was for the same bar by the same model: the drop is the latest, not a second entry.
    expect(forecast.history).toHaveLength(1);

    const bad = `${PATHS.forecastPrefix}prices.csv`;
    await cloud.upload(bad, 'Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10.5,100\n');
    const failed = await until(
      'the failed attempt',
      async () =>
        (await cloud.deps.docs.list(DOCS.forecastAttempts))
          .map((a) => ForecastAttempt.parse(a.data))
          .find((a) => a.source === bad),
      60_000,
    );
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/^prices\.csv: no current model for PRICES 1d/);
    expect(ModelDoc.parse(await cloud.deps.docs.get(DOCS.model('RELIANCE', '1d')))).toEqual(model);
    expect(await cloud.deps.docs.list(DOCS.runs)).toHaveLength(runs);
    expect(cloud.deliveries.filter((d) => d.target === 'launcher')).toHaveLength(launched);
  }, 180_000);

  it("the next year's CSV: judged against the current model, scores its forecast, and the index page shows both", async () => {
    const firstRun = ModelDoc.parse(await cloud.deps.docs.get(DOCS.model('RELIANCE', '1d'))).current!.runId;
    const key = `${PATHS.incomingPrefix}${CONTINUATION_NAME}`;
    await cloud.upload(gridKeyFor(key), JSON.stringify(TINY_GRID));
    const runId = await cloud.upload(key, continuationCsv());
    const run = await cloud.waitForRun(runId, 300_000);
    expect(['promoted', 'rejected']).toContain(run.status);
    expect(run.champion).toMatchObject({ version: 1, config: 'tiny', runId: firstRun, error: null });
    expect(run.champion!.metrics!.windows).toBe(run.dataset!.counts.validation);
    expect(run.reason).toMatch(/current model/);

    const record = TrackRecord.parse(await cloud.deps.docs.get(DOCS.trackRecord('RELIANCE', '1d')));
    expect(record).toMatchObject({ scored: 1, byVersion: { '1': expect.objectContaining({ scored: 1 }) } });
    const scored = ForecastDoc.parse(await cloud.deps.docs.get(DOCS.forecast('RELIANCE', '1d'))).history[0]!;
    expect(scored.outcome).toMatchObject({ nextTimestamp: '2025-11-12', source: key });

    const html = await until(
      'the index page to list the second run',
      async () => {
        const text = (await cloud.deps.store.read(INDEX_PAGE)).toString('utf8');
        return text.includes(`runs/${runId}/report.html`) ? text : undefined;
      },
      60_000,
    );
    expect(html).toContain(`runs/${firstRun}/report.html`);
    expect(html).toMatch(/[01] of 1 forecasts right/);
  }, 420_000);
});
