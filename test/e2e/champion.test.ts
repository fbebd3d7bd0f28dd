import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalDocumentStore } from '../../adapters/local/document-store.ts';
import { ForecastDoc, type RunDoc, TrackRecord } from '../../shared/documents.ts';
import { DOCS } from '../../shared/names.ts';
import { readRuns } from '../../shared/records.ts';
import { REFERENCE_CSV, trendcast } from '../helpers/cli.ts';
import { CONTINUATION_NAME, continuationCsv, REFERENCE_LAST } from '../helpers/continuation.ts';

// Two consecutive yearly CSVs of one symbol on the embedded default, through the real CLI and trainer processes: the
// second run is judged against the first run's model on its own windows, and the first run's forecast is scored by
// the second CSV's first bar. The grid turns the gate off so the first run leaves a model (two tiny epochs).
describe('champion against challenger, and the track record (embedded default)', () => {
  const home = mkdtempSync(join(tmpdir(), 'champion-'));
  const scratch = mkdtempSync(join(tmpdir(), 'champion-csv-'));
  const docs = new LocalDocumentStore(join(home, 'firestore'));
  const second = join(scratch, CONTINUATION_NAME);
  let first: RunDoc;
  let next: RunDoc;
  let output: Awaited<ReturnType<typeof trendcast>>;

  beforeAll(async () => {
    const grid = join(scratch, 'grid.json');
    writeFileSync(
      grid,
      JSON.stringify({
        gate: false,
        seed: 11,
        configs: [
          { name: 'tiny', lstmUnits: [4, 4, 4], dropout: 0.1, learningRate: 0.01, batchSize: 32, epochs: 2 },
        ],
      }),
    );
    writeFileSync(second, continuationCsv());
    const one = await trendcast(['run', REFERENCE_CSV, '--configs', grid, '--home', home, '--quiet']);
    expect(one.code).toBe(0);
    output = await trendcast(['run', second, '--configs', grid, '--home', home, '--quiet']);
    const runs = (await readRuns(docs)).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    [first, next] = runs as [RunDoc, RunDoc];
  }, 600_000);

  it("judges the second run's best trial against the first run's model on the second run's windows", () => {
    expect(output.code).toBe(0);
    expect(first.status).toBe('promoted');
    expect(first.champion).toBeNull();
    expect(next.champion).toMatchObject({ version: 1, config: 'tiny', runId: first.runId, error: null });
    const c = next.champion!.metrics!;
    expect(c.windows).toBe(next.dataset!.counts.validation);
    const { tp, fp, tn, fn } = c.confusion;
    expect(tp + fp + tn + fn).toBe(c.windows);
    const best = next.ranking[0]!;
    if (next.status === 'promoted') {
      expect(best.f1!).toBeGreaterThan(c.f1);
      expect(next.reason).toMatch(/beats the current model v1 \(tiny\) has F1/);
    } else {
      expect(next.status).toBe('rejected');
      expect(best.f1!).toBeLessThanOrEqual(c.f1);
      expect(next.reason).toMatch(/does not beat the current model: v1 \(tiny\) has F1 \d\.\d{4}/);
    }
    expect(output.stdout).toMatch(/^champion: current model v1 \(tiny\) on the same 28 windows: f1 /m);
  });

  it("scores the first run's forecast with the second CSV's first bar, once, into the track record", async () => {
    const forecasts = ForecastDoc.parse(await docs.get(DOCS.forecast('RELIANCE', '1d')));
    const scored = forecasts.history.find((f) => f.asOf === REFERENCE_LAST.timestamp)!;
    const firstBar = continuationCsv().trimEnd().split('\n').at(-1)!; // newest first: the last line is 12-Nov-2025
    const nextClose = Number(firstBar.split(',')[7]!.replaceAll('"', ''));
    expect(scored.outcome).toMatchObject({
      close: REFERENCE_LAST.close,
      nextClose,
      nextTimestamp: '2025-11-12',
      up: nextClose > REFERENCE_LAST.close,
      correct: (scored.signal === 'up') === nextClose > REFERENCE_LAST.close,
      source: `incoming/${CONTINUATION_NAME}`,
    });
    const record = TrackRecord.parse(await docs.get(DOCS.trackRecord('RELIANCE', '1d')));
    expect(record).toMatchObject({ scored: 1, correct: scored.outcome!.correct ? 1 : 0 });
    expect(record.byVersion['1']).toMatchObject({ scored: 1 });

    // The same CSV again (a new upload, so a new run) scores nothing twice.
    const again = await trendcast(['run', second, '--epochs', '1', '--home', home, '--quiet']);
    expect(again.code).toBe(0);
    expect(TrackRecord.parse(await docs.get(DOCS.trackRecord('RELIANCE', '1d'))).scored).toBe(1);

    const status = JSON.parse((await trendcast(['status', '--json', '--home', home])).stdout);
    expect(status.trackRecords).toEqual([
      expect.objectContaining({ symbol: 'RELIANCE', timeframe: '1d', scored: 1 }),
    ]);
    expect(status.runs.find((r: { runId: string }) => r.runId === next.runId).champion).toMatchObject({
      version: 1,
    });
    const text = (await trendcast(['status', '--home', home])).stdout;
    expect(text).toMatch(/^TRACK RECORD RELIANCE 1d: [01] of 1 forecasts right/m);
  }, 300_000);

  it('writes an index page with the model, the latest forecast, the track record and both runs', async () => {
    const printed = await trendcast(['report', '--index', '--home', home]);
    expect(printed.code).toBe(0);
    const file = join(home, 'bucket', 'index.html');
    expect(printed.stdout).toBe(`index page: ${file}\n`);
    const html = readFileSync(file, 'utf8');
    expect(html).toContain('<h2>RELIANCE <span class="note">1d</span></h2>');
    for (const run of [first, next]) expect(html).toContain(`<a href="runs/${run.runId}/report.html">`);
    expect(html).toMatch(/[01] of 1 forecasts right/);
    expect(html).not.toMatch(/<script|https?:\/\//);
    const refused = await trendcast(['report', '--index', next.runId, '--home', home]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^error: --index shows every run; leave out the run id/m);
  });
});
