import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalDocumentStore } from '../../adapters/local/document-store.ts';
import { createLogger } from '../../adapters/log.ts';
import { createEmbedded } from '../../cli/embedded.ts';
import { ForecastAttempt, ForecastDoc, ModelDoc, RunDoc, TrialDoc } from '../../shared/documents.ts';
import { DOCS } from '../../shared/names.ts';
import { REFERENCE_CSV, trendcast } from '../helpers/cli.ts';

// The promoted model's backtest and forecast on the embedded default, through the real CLI and trainer processes,
// with the gate off and a tiny config (the machine is shared: two epochs).
describe('forecasts on the embedded default', () => {
  const home = mkdtempSync(join(tmpdir(), 'forecast-'));
  const scratch = mkdtempSync(join(tmpdir(), 'forecast-csv-'));
  const docs = new LocalDocumentStore(join(home, 'firestore'));
  const gridFile = join(scratch, 'grid.json');
  let run: RunDoc;
  let runOutput: Awaited<ReturnType<typeof trendcast>>;

  beforeAll(async () => {
    writeFileSync(
      gridFile,
      JSON.stringify({
        gate: false,
        seed: 11,
        configs: [
          { name: 'tiny', lstmUnits: [4, 4, 4], dropout: 0.1, learningRate: 0.01, batchSize: 32, epochs: 2 },
        ],
      }),
    );
    runOutput = await trendcast(['run', REFERENCE_CSV, '--configs', gridFile, '--home', home, '--quiet']);
    run = RunDoc.parse((await docs.list(DOCS.runs))[0]!.data);
  }, 300_000);

  it("writes the promoted model's backtest, equity curve and the forecast of the bar after 11-Nov-2025", async () => {
    expect(runOutput.code).toBe(0);
    expect(run.status).toBe('promoted');
    const trial = TrialDoc.parse((await docs.get(DOCS.trial(run.runId, 'tiny')))!);
    const m = trial.metrics!;
    expect(m.backtest).toMatchObject({ costBps: 10, threshold: 0.5, allowShort: false, periodsPerYear: 252 });
    expect(m.pValue).toBeGreaterThan(0);
    expect(existsSync(fileURLToPath(trial.artifacts!.equity))).toBe(true);
    const version = fileURLToPath(ModelDoc.parse(await docs.get(DOCS.model('RELIANCE', '1d'))).current!.uri);
    expect(existsSync(join(version, 'preprocessing.json'))).toBe(true);

    const forecast = ForecastDoc.parse(await docs.get(DOCS.forecast('RELIANCE', '1d')));
    expect(forecast).toMatchObject({ asOf: '2025-11-11', modelVersion: 1, runId: run.runId, threshold: 0.5 });
    expect(forecast.signal).toBe(forecast.probabilityUp >= 0.5 ? 'up' : 'down');
    expect(forecast.history).toHaveLength(1);
    expect(runOutput.stdout).toMatch(/FORECAST RELIANCE 1d, the bar after 2025-11-11: (UP|DOWN)/);
  });

  it('trendcast predict prints the same forecast from the current model, or from --model', async () => {
    const forecast = ForecastDoc.parse(await docs.get(DOCS.forecast('RELIANCE', '1d')));
    const json = await trendcast(['predict', REFERENCE_CSV, '--json', '--home', home]);
    expect(json.code).toBe(0);
    const printed = JSON.parse(json.stdout);
    expect(printed).toMatchObject({
      symbol: 'RELIANCE',
      timeframe: '1d',
      asOf: '2025-11-11',
      modelVersion: 1,
    });
    expect(printed.probabilityUp).toBeCloseTo(forecast.probabilityUp, 6);
    const text = await trendcast(['predict', REFERENCE_CSV, '--home', home]);
    expect(text.stdout).toMatch(/^RELIANCE 1d, the bar after 2025-11-11: (UP|DOWN) \(P\(up\) 0\.\d{4}/);
    const folder = join(home, 'bucket/models/RELIANCE/1d/versions/v0001');
    const status = JSON.parse((await trendcast(['status', '--json', '--home', home])).stdout);
    expect(status.forecasts).toEqual([
      expect.objectContaining({ symbol: 'RELIANCE', asOf: '2025-11-11', modelVersion: 1, forecasts: 1 }),
    ]);
    const direct = await trendcast(['predict', REFERENCE_CSV, '--model', folder, '--json']);
    expect(direct.code).toBe(0);
    expect(JSON.parse(direct.stdout)).toMatchObject({ asOf: '2025-11-11', modelVersion: 1 });
  });

  it('refuses bad input with exit 2 and one error line that says which', async () => {
    const other = join(scratch, 'Quote-Equity-INFY-EQ-12-11-2024-to-12-11-2025.csv');
    copyFileSync(REFERENCE_CSV, other);
    const lines = readFileSync(REFERENCE_CSV, 'utf8').split('\n');
    const short = join(scratch, 'Quote-Equity-RELIANCE-EQ-short.csv');
    writeFileSync(short, lines.slice(0, 101).join('\n'));
    const empty = mkdtempSync(join(tmpdir(), 'forecast-empty-'));
    const folder = join(home, 'bucket/models/RELIANCE/1d/versions/v0001');
    const cases: Array<[string[], RegExp]> = [
      [['predict', other, '--model', folder], /INFY.*the bars are INFY 1d; the model .* is RELIANCE 1d/],
      [['predict', other, '--home', home], /no current model for INFY 1d .*it has RELIANCE 1d/],
      [['predict', short, '--home', home], /short\.csv: RELIANCE 1d: 51 usable bars .*a forecast needs 60/],
      [['predict', REFERENCE_CSV, '--home', empty], /no current model for RELIANCE 1d .*it has none/],
    ];
    for (const [args, message] of cases) {
      const result = await trendcast(args);
      expect(result.code, args.join(' ')).toBe(2);
      const errors = result.stderr.split('\n').filter((l) => l.startsWith('error:'));
      expect(errors, args.join(' ')).toHaveLength(1);
      expect(errors[0]).toMatch(message);
      expect(result.stdout).toBe('');
    }
  });

  it('forecasts a CSV dropped under forecast/ without training; a failed drop leaves the model alone', async () => {
    const embedded = createEmbedded({ home, log: createLogger({}, { write: () => {} }) });
    const model = await docs.get(DOCS.model('RELIANCE', '1d'));
    const runs = (await docs.list(DOCS.runs)).length;
    const datasets = (await embedded.store.list('datasets/')).length;

    const key = 'forecast/Quote-Equity-RELIANCE-EQ-12-11-2024-to-12-11-2025.csv';
    await embedded.store.write(key, readFileSync(REFERENCE_CSV));
    await embedded.finalize(key);
    await embedded.bus.idle();
    await embedded.finalize(key); // the same object delivered again: one attempt
    await embedded.bus.idle();
    const forecast = ForecastDoc.parse(await docs.get(DOCS.forecast('RELIANCE', '1d')));
    // The run's forecast was for the same bar by the same model: the drop is the latest, not a second entry.
    expect(forecast.history).toHaveLength(1);
    expect(forecast).toMatchObject({ asOf: '2025-11-11', runId: null, source: key, modelVersion: 1 });
    expect(await docs.list(DOCS.runs)).toHaveLength(runs);
    expect(await embedded.store.list('datasets/')).toHaveLength(datasets); // nothing built, nothing trained

    const bad = 'forecast/Quote-Equity-INFY-EQ-12-11-2024-to-12-11-2025.csv';
    await embedded.store.write(bad, readFileSync(REFERENCE_CSV));
    await embedded.finalize(bad);
    await embedded.bus.idle();
    const attempts = (await docs.list(DOCS.forecastAttempts)).map((a) => ForecastAttempt.parse(a.data));
    const failed = attempts.filter((a) => a.status === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ source: bad, symbol: 'INFY', timeframe: '1d', forecast: null });
    expect(failed[0]!.error).toMatch(
      /^Quote-Equity-INFY-EQ-12-11-2024-to-12-11-2025\.csv: no current model for INFY 1d/,
    );
    expect(await docs.get(DOCS.model('RELIANCE', '1d'))).toEqual(model);
    expect(ForecastDoc.parse(await docs.get(DOCS.forecast('RELIANCE', '1d'))).history).toHaveLength(1);
    expect(await docs.list(DOCS.runs)).toHaveLength(runs);
  });
});
