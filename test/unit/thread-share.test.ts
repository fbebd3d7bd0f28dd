import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ChildProcessJobLauncher } from '../../adapters/local/job-launcher.ts';
import { LocalMessageBus } from '../../adapters/local/message-bus.ts';
import { followThreadShare } from '../../cli/commands/train.ts';
import type { EpochProgressLine } from '../../shared/progress.ts';
import { threadShare, trainerThreadCap } from '../../shared/threads.ts';
import { writeReferenceDataset } from '../helpers/dataset.ts';
import { tinyConfig } from '../helpers/docs.ts';
import { until } from '../helpers/wait.ts';

describe('a trainer’s share of the cores', () => {
  it('is an even share of the cores among the running trainers, at least one, at most the cap', () => {
    expect([1, 2, 3].map((running) => threadShare(2, running, 2))).toEqual([2, 1, 1]);
    expect([1, 2, 3, 4, 9].map((running) => threadShare(8, running, 8))).toEqual([8, 4, 2, 2, 1]);
    expect(threadShare(16, 1, 4)).toBe(4);
    expect(threadShare(4, 0, 4)).toBe(4);
  });

  it('is capped by TRENDCAST_TRAINER_THREADS, where 0 means every core', () => {
    expect(trainerThreadCap(0, 8)).toBe(8);
    expect(trainerThreadCap(3, 8)).toBe(3);
    expect(trainerThreadCap(0, 0)).toBe(1);
  });
});

describe('trendcast train --thread-share', () => {
  it('reads the count again once 100 ms have passed, and keeps it when the file goes', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'share-')), 'job.threads');
    writeFileSync(file, '2\n');
    const threads = followThreadShare(file);
    expect(threads()).toBe(2);
    writeFileSync(file, '1\n');
    await new Promise((r) => setTimeout(r, 150));
    expect(threads()).toBe(1);
    rmSync(file);
    await new Promise((r) => setTimeout(r, 150));
    expect(threads()).toBe(1);
  });

  it('refuses a file without a count, naming it', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'share-')), 'job.threads');
    expect(() => followThreadShare(file)).toThrow(`--thread-share: ${file} does not hold a thread count`);
    writeFileSync(file, 'all\n');
    expect(() => followThreadShare(file)).toThrow(`--thread-share: ${file} does not hold a thread count`);
  });
});

describe('the local launcher', () => {
  it('tells each running trainer its share, and the one left running every core once its sibling ends', async () => {
    const root = mkdtempSync(join(tmpdir(), 'share-launcher-'));
    const datasetDir = join(root, 'dataset');
    writeReferenceDataset(datasetDir);
    const progress: EpochProgressLine[] = [];
    // Four cores whatever the machine: two trainers get two threads each, one alone gets four.
    const launcher = new ChildProcessJobLauncher(new LocalMessageBus(), {
      cores: 4,
      trainerThreads: 0,
      onProgress: (p) => progress.push(p),
    });
    const request = (name: string) => ({
      runId: 'run-share',
      // Trains until cancelled.
      config: { ...tinyConfig(name, 10_000), patience: 10_000 },
      datasetUri: `${pathToFileURL(datasetDir).href}/`,
      outputUri: `${pathToFileURL(join(root, name)).href}/`,
      seed: 3,
    });
    const epochOf = (config: string, threads: number) => async () =>
      progress.find((p) => p.config === config && p.threads === threads);
    try {
      const [a, b] = [await launcher.launch(request('a')), await launcher.launch(request('b'))];
      await until('trainer a at 2 threads', epochOf('a', 2), 120_000);
      await until('trainer b at 2 threads', epochOf('b', 2), 120_000);
      await launcher.cancel(b.jobId);
      await until('trainer a at 4 threads', epochOf('a', 4), 120_000);
      await launcher.cancel(a.jobId);
      expect(progress.filter((p) => p.config === 'b').map((p) => p.threads)).toEqual(
        progress.filter((p) => p.config === 'b').map(() => 2),
      );
    } finally {
      await launcher.stop('SIGKILL');
    }
  }, 300_000);
});
