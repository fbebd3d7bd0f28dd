// Forecasts on the emulators, with the real event wiring: after a promoted run the forecaster writes the forecast
// document, and a CSV uploaded under forecast/ updates it without a run or a training job.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gcpDeps } from '../../adapters/gcp/deps.ts';
import { storageClient } from '../../adapters/gcp/object-store.ts';
import { ChildProcessJobLauncher } from '../../adapters/local/job-launcher.ts';
import { createLogger } from '../../adapters/log.ts';
import type { Deps } from '../../functions/deps.ts';
import { Emulators, emulatorSkipReason } from '../../scripts/emulator-harness.ts';
import { type Eventarc, startPipeline } from '../../scripts/eventarc.ts';
import {
  FINAL_RUN_STATUSES,
  ForecastAttempt,
  ForecastDoc,
  ModelDoc,
  type RunDoc,
} from '../../shared/documents.ts';
import { DOCS, PATHS } from '../../shared/names.ts';
import { deriveRunId } from '../../shared/run-id.ts';
import { readSettings } from '../../shared/settings.ts';
import { REFERENCE_CSV } from '../helpers/cli.ts';

const skip = emulatorSkipReason();

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
}

describe.skipIf(skip).sequential('forecasts on the emulators', () => {
  let emulators: Emulators;
  let eventarc: Eventarc;
  let deps: Deps;
  let jobs: ChildProcessJobLauncher;

  async function upload(key: string, data: Buffer | string): Promise<string> {
    await deps.store.write(key, data);
    const [metadata] = await storageClient().bucket(emulators.env.TRENDCAST_BUCKET).file(key).getMetadata();
    return String(metadata.generation);
  }

  beforeAll(async () => {
    emulators = await Emulators.start({ setProcessEnv: true });
    const log = createLogger({}, { json: true, write: () => {} });
    deps = gcpDeps(readSettings({ ...process.env, TRENDCAST_BACKEND: 'gcp' }), log);
    jobs = new ChildProcessJobLauncher(deps.bus, { maxJobs: 1, log });
    deps.launcher = jobs;
    eventarc = await startPipeline(emulators, deps);
  });

  afterAll(async () => {
    jobs?.stop();
    await Promise.allSettled([eventarc?.stop()]);
    await emulators?.stop();
  });

  it('a promoted run writes the forecast of the bar after 11-Nov-2025', async () => {
    const key = `${PATHS.incomingPrefix}${basename(REFERENCE_CSV)}`;
    const grid = {
      gate: false,
      seed: 5,
      configs: [
        { name: 'tiny', lstmUnits: [4, 4, 4], dropout: 0.1, learningRate: 0.01, batchSize: 32, epochs: 1 },
      ],
    };
    await upload(key.replace(/\.csv$/, '.grid.json'), JSON.stringify(grid));
    const generation = await upload(key, readFileSync(REFERENCE_CSV));
    const runId = deriveRunId(emulators.env.TRENDCAST_BUCKET, key, generation);
    const run = await until(
      'the run to end',
      async () => {
        const r = await deps.docs.get<RunDoc>(DOCS.run(runId));
        return r && FINAL_RUN_STATUSES.has(r.status) ? r : undefined;
      },
      300_000,
    );
    expect(run.status).toBe('promoted');
    const forecast = await until(
      'the forecast',
      async () => ForecastDoc.safeParse(await deps.docs.get(DOCS.forecast('RELIANCE', '1d'))).data,
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
    const model = await deps.docs.get(DOCS.model('RELIANCE', '1d'));
    const runs = (await deps.docs.list(DOCS.runs)).length;
    const launched = eventarc.deliveries.filter((d) => d.target === 'launcher').length;
    const key = `${PATHS.forecastPrefix}${basename(REFERENCE_CSV)}`;
    await upload(key, readFileSync(REFERENCE_CSV));
    const forecast = await until(
      'the dropped CSV to be forecast',
      async () => {
        const doc = ForecastDoc.parse(await deps.docs.get(DOCS.forecast('RELIANCE', '1d')));
        return doc.history.length === 2 ? doc : undefined;
      },
      60_000,
    );
    expect(forecast).toMatchObject({ asOf: '2025-11-11', runId: null, source: key, modelVersion: 1 });

    const bad = `${PATHS.forecastPrefix}prices.csv`;
    await upload(bad, 'Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10.5,100\n');
    const failed = await until(
      'the failed attempt',
      async () =>
        (await deps.docs.list(DOCS.forecastAttempts))
          .map((a) => ForecastAttempt.parse(a.data))
          .find((a) => a.source === bad),
      60_000,
    );
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/^prices\.csv: no current model for PRICES 1d/);
    expect(ModelDoc.parse(await deps.docs.get(DOCS.model('RELIANCE', '1d')))).toEqual(model);
    expect(await deps.docs.list(DOCS.runs)).toHaveLength(runs);
    expect(eventarc.deliveries.filter((d) => d.target === 'launcher')).toHaveLength(launched);
  }, 180_000);
});
