import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../adapters/log.ts';
import { createEmbedded, type Embedded } from '../../cli/embedded.ts';
import type { GridInput } from '../../shared/config.ts';
import { DOCS, gridKeyFor, TOPICS } from '../../shared/names.ts';
import type { ObjectStore } from '../../shared/ports.ts';
import { readModel, readRun, readRuns, readTrials } from '../../shared/records.ts';
import { deriveRunId } from '../../shared/run-id.ts';
import { CLI, REFERENCE_CSV } from '../helpers/cli.ts';
import { tinyConfig } from '../helpers/docs.ts';

// Faults on the embedded default, with real trainer processes on tiny configs. Each ends with one run document in a
// final state, at most one promotion, and the current model intact.
const figures = { faultsInjected: 0, survived: 0, duplicateDeliveries: 0, promotions: 0 };
const grid = (epochs: number, names = ['tiny_a', 'tiny_b']): GridInput => ({
  gate: false,
  seed: 7,
  configs: names.map((n) => tinyConfig(n, epochs)),
});
const quietLog = createLogger({}, { write: () => {} });

async function drop(embedded: Embedded, g: GridInput, name = 'Quote-Equity-RELIANCE-EQ-faults.csv') {
  const key = `incoming/${name}`;
  await embedded.store.write(gridKeyFor(key), JSON.stringify(g));
  await embedded.store.write(key, readFileSync(REFERENCE_CSV));
  const event = await embedded.finalize(key);
  return deriveRunId('local', key, String(event.data!.generation));
}

async function endState(embedded: Embedded, runId: string) {
  const run = (await readRun(embedded.docs, runId))!;
  const trials = await readTrials(embedded.docs, runId);
  const model = await readModel(embedded.docs, 'RELIANCE', '1d');
  return { run, trials, model, runs: await embedded.docs.list(DOCS.runs) };
}

function expectEndedCleanly(state: Awaited<ReturnType<typeof endState>>) {
  expect(state.runs).toHaveLength(1);
  // The grid's gate is off and tiny_a always trains: every fault scenario ends promoted, exactly once.
  expect(state.run.status).toBe('promoted');
  expect(state.trials.find((t) => t.config === state.run.promotion?.config)?.status).toBe('succeeded');
  expect(state.trials.every((t) => t.status === 'succeeded' || t.status === 'failed')).toBe(true);
  expect(state.model?.history).toHaveLength(1);
  figures.promotions++;
}

describe('faults on the embedded default', () => {
  /** An embedded pipeline that sends `signal` to tiny_b's trainer once it has trained its first epoch. */
  function withSignalToTinyB(home: string, signal: NodeJS.Signals): Embedded {
    let sent = false;
    const embedded: Embedded = createEmbedded({
      home,
      log: quietLog,
      maxJobs: 2,
      onProgress: (p) => {
        const job = embedded.jobs.running().find((j) => j.jobId.endsWith('tiny_b'));
        if (sent || p.config !== 'tiny_b' || !job) return;
        process.kill(job.pid, signal);
        sent = true;
        figures.faultsInjected++;
      },
    });
    return embedded;
  }

  it('a trainer killed mid-training fails its trial and the run is decided on the rest', async () => {
    const embedded = withSignalToTinyB(mkdtempSync(join(tmpdir(), 'fault-kill-')), 'SIGKILL');
    const runId = await drop(embedded, grid(40));
    await embedded.waitForRun(runId);
    const state = await endState(embedded, runId);
    expectEndedCleanly(state);
    const b = state.trials.find((t) => t.config === 'tiny_b')!;
    expect(b.status).toBe('failed');
    expect(b.error).toMatch(/killed by SIGKILL/);
    expect(state.run.promotion?.config ?? 'tiny_a').toBe('tiny_a');
    figures.survived++;
  });

  it('a trainer that never reports is timed out at the run deadline', async () => {
    process.env.TRENDCAST_RUN_DEADLINE_MINUTES = '0.15'; // 9 s
    try {
      // SIGSTOP: alive, silent, never reports.
      const embedded = withSignalToTinyB(mkdtempSync(join(tmpdir(), 'fault-hang-')), 'SIGSTOP');
      const runId = await drop(embedded, grid(3));
      await embedded.waitForRun(runId);
      const state = await endState(embedded, runId);
      expectEndedCleanly(state);
      expect(state.trials.find((t) => t.config === 'tiny_b')!.error).toMatch(/^timed out/);
      expect(embedded.jobs.running()).toEqual([]);
      figures.survived++;
    } finally {
      delete process.env.TRENDCAST_RUN_DEADLINE_MINUTES;
    }
  });

  it('every message delivered twice: one run, one decision, at most one promotion', async () => {
    const home = mkdtempSync(join(tmpdir(), 'fault-dup-'));
    const embedded = createEmbedded({ home, log: quietLog, maxJobs: 2, delivery: { deliveries: 2 } });
    const runId = await drop(embedded, grid(2));
    await embedded.waitForRun(runId);
    const state = await endState(embedded, runId);
    expectEndedCleanly(state);
    expect(state.trials.every((t) => t.status === 'succeeded')).toBe(true);
    const published = [TOPICS.trainingRequests, TOPICS.trainingResults].map(
      (t) => embedded.bus.published.get(t)?.length ?? 0,
    );
    figures.duplicateDeliveries += published[0]! + published[1]! + 1; // every message and the upload event, once more
    // The two concurrent ingest deliveries may both publish the requests, but each trial trains once: one result each.
    expect(published[0]).toBeGreaterThanOrEqual(2);
    expect(published[1]).toBe(2);
    figures.survived++;
  });

  it('the object store failing a write: the ingest is redelivered and completes once', async () => {
    const home = mkdtempSync(join(tmpdir(), 'fault-write-'));
    const embedded = createEmbedded({ home, log: quietLog, maxJobs: 2 });
    const store = embedded.deps.store as ObjectStore;
    // X.npy is streamed to the store: the stream fails once, after features.csv landed.
    const writeStream = store.writeStream.bind(store);
    let failures = 0;
    store.writeStream = async (key, chunks, contentType) => {
      if (key.endsWith('X.npy') && failures === 0) {
        failures++;
        figures.faultsInjected++;
        throw new Error('injected: storage unavailable');
      }
      return writeStream(key, chunks, contentType);
    };
    const runId = await drop(embedded, grid(2));
    await embedded.waitForRun(runId);
    const state = await endState(embedded, runId);
    expectEndedCleanly(state);
    expect(failures).toBe(1);
    figures.survived++;
  });

  it('two `trendcast run` of the same CSV on the same home at once: one run, at most one promotion', async () => {
    const home = mkdtempSync(join(tmpdir(), 'fault-twice-'));
    const dir = mkdtempSync(join(tmpdir(), 'grid-'));
    const gridFile = join(dir, 'grid.json');
    writeFileSync(gridFile, JSON.stringify(grid(2)));
    const run = () =>
      new Promise<number>((resolve) =>
        execFile(
          process.execPath,
          [CLI, 'run', REFERENCE_CSV, '--configs', gridFile, '--home', home, '--quiet'],
          (e) => resolve(e ? Number(e.code ?? 1) : 0),
        ),
      );
    figures.faultsInjected++;
    const codes = await Promise.all([run(), run()]);
    expect(codes).toEqual([0, 0]);
    const embedded = createEmbedded({ home, log: quietLog });
    const runs = await readRuns(embedded.docs);
    expect(runs).toHaveLength(1);
    expectEndedCleanly(await endState(embedded, runs[0]!.runId));
    figures.survived++;
  });
});

afterAll(() => {
  console.log(
    `fault figures: ${figures.faultsInjected} faults injected, ${figures.survived} fault scenarios survived, ` +
      `${figures.duplicateDeliveries} duplicate deliveries, ${figures.promotions} promotions`,
  );
});
