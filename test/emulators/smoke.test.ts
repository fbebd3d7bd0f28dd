// `npm run emulators -- smoke`: the smoke test of a deployment (cli/smoke.ts) against the emulated cloud, through the
// real clients. A run that is decided passes; one that stops moving (no GPU quota: every trial waits in the queue)
// fails with the step it stalled at and where to look.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emulatorSkipReason } from '../../emulators/harness.ts';
import { emulatorsCommand } from '../helpers/cli.ts';

const skip = emulatorSkipReason();

describe.skipIf(skip).sequential('npm run emulators -- smoke', () => {
  it('drops the sample, prints each step as it happens and exits 0 once the run is decided', async () => {
    const run = await emulatorsCommand(['smoke', '--epochs', '1']);
    expect(run.code, run.stdout + run.stderr.slice(-2000)).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /^uploaded gs:\/\/trendcast-emulated\/incoming\/Quote-Equity-RELIANCE-.*\.csv \(run run-\w+\)$/,
    );
    expect(lines).toContain('ingested: 3 trial(s)');
    for (const config of ['config_1_baseline', 'config_2_deeper', 'config_3_wider']) {
      // Polled every two seconds: a short step may pass unseen, but what is printed follows the lifecycle.
      const steps = lines.filter((l) => l.startsWith(`  trial ${config}: `)).map((l) => l.split(': ')[1]!);
      const order = ['queued', 'starting', 'training', 'succeeded'];
      const ranks = steps.map((step) => order.indexOf(step.replace(/,.*| \(.*/, '')));
      expect(ranks, `${config}: ${steps.join(' -> ')}`).toEqual([...ranks].sort((a, b) => a - b));
      expect(ranks[0], config).toBeGreaterThanOrEqual(0);
      expect(steps.at(-1), config).toBe('succeeded');
    }
    expect(lines.find((l) => l.startsWith('decided: '))).toMatch(/^decided: (promoted|rejected) in \d+ s/);
  }, 300_000);

  it('exits 2 naming the step that stalled and where to look when nothing moves (no GPU quota)', async () => {
    const run = await emulatorsCommand(['smoke', '--epochs', '1', '--gpu-quota', '0', '--stall', '0.25']);
    expect(run.code, run.stdout + run.stderr.slice(-2000)).toBe(2);
    expect(run.stdout).toMatch(
      /^FAILED: stalled at queued: nothing moved for 0\.25 min \(waiting for GPU quota custom_model_training_nvidia_t4_gpus in asia-south1\)$/m,
    );
    expect(run.stdout).toMatch(/^look at the launcher function/m);
    expect(run.stdout).toContain(
      `gcloud logging read 'resource.type="cloud_run_revision" AND resource.labels.service_name="trendcast-launcher"' --project=trendcast-emulated`,
    );
    expect(run.stdout).not.toMatch(/^decided: /m);
  }, 300_000);

  it('exits 2 with the refusal itself when the upload is refused at ingest', async () => {
    const csv = join(mkdtempSync(join(tmpdir(), 'smoke-bad-')), 'bad-prices.csv');
    writeFileSync(csv, 'Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,n/a,100\n');
    const run = await emulatorsCommand(['smoke', csv]);
    expect(run.code, run.stdout + run.stderr.slice(-2000)).toBe(2);
    expect(run.stdout).toMatch(
      /^FAILED: the run failed at ingesting: bad-prices\.csv, row 2, column "Close": "n\/a" is not a number$/m,
    );
  }, 300_000);
});
