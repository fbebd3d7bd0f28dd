import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { LocalDocumentStore } from '../../adapters/local/document-store.ts';
import { jobSeconds } from '../../shared/budget.ts';
import { InputError } from '../../shared/errors.ts';
import type { DocumentStore } from '../../shared/ports.ts';
import { readForecasts, readModels, readRuns, readTrackRecords, readTrials } from '../../shared/records.ts';
import { reportLocation, runSummary, table, trackRecordLine } from '../format.ts';

/** Runs (newest first), their trials, and the current models: what `status --json` prints. */
export async function collectStatus(docs: DocumentStore, runId?: string) {
  const runDocs = (await readRuns(docs))
    .filter((r) => !runId || r.runId === runId)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  if (runId && runDocs.length === 0) throw new InputError(`no run ${runId}`);
  const runs = await Promise.all(
    runDocs.map(async (run) => {
      const trials = await readTrials(docs, run.runId);
      return { run, trials };
    }),
  );
  const models = await readModels(docs);
  const forecasts = await readForecasts(docs);
  const trackRecords = await readTrackRecords(docs);
  return {
    runs: runs.map(({ run, trials }) => ({
      runId: run.runId,
      status: run.status,
      symbol: run.symbol,
      timeframe: run.timeframe,
      source: run.source.object,
      createdAt: run.createdAt,
      finishedAt: run.finishedAt,
      reason: run.status === 'failed' ? run.error : run.reason,
      promotedConfig: run.status === 'promoted' ? (run.promotion?.config ?? null) : null,
      champion: run.champion ?? null,
      report: run.reportUri ? reportLocation(run.reportUri) : null,
      dataset: run.dataset,
      estimate: run.estimate ?? null,
      budget: run.budget
        ? { ...run.budget, actualHours: jobSeconds(trials, new Date().toISOString()) / 3600 }
        : null,
      gateOff: run.gateOff ?? null,
      warnings: run.warnings ?? [],
      trials: trials.map((t) => ({
        config: t.config,
        status: t.status,
        progress: t.progress,
        error: t.error,
        metrics: t.metrics,
        artifacts: t.artifacts,
      })),
    })),
    models: models.map((m) => ({
      symbol: m.symbol,
      timeframe: m.timeframe,
      current: m.current && {
        runId: m.current.runId,
        config: m.current.config,
        version: m.current.version,
        f1: m.current.f1,
        uri: m.current.uri,
        promotedAt: m.current.promotedAt,
      },
      versions: m.history.length,
    })),
    forecasts: forecasts.map(({ history, ...latest }) => ({
      ...latest,
      forecasts: history.length,
      scored: history.filter((f) => f.outcome).length,
    })),
    trackRecords,
    details: runs,
  };
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('runs, trials and current models of the local home')
    .argument('[runId]', 'one run in detail')
    .option('--json', 'one JSON object instead of tables')
    .option('--home <dir>', 'state folder', '.trendcast')
    .action(async (runId: string | undefined, options: { json?: boolean; home: string }) => {
      const docs = new LocalDocumentStore(join(resolve(options.home), 'firestore'));
      const { details, ...status } = await collectStatus(docs, runId);
      if (options.json) {
        process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
        return;
      }
      if (runId) {
        const one = details[0]!;
        process.stdout.write(`${runSummary(one.run, one.trials)}\n`);
        return;
      }
      const runRows = status.runs.map((r) => [
        r.runId,
        r.status,
        r.symbol,
        r.timeframe,
        r.createdAt.slice(0, 19).replace('T', ' '),
        r.promotedConfig,
        r.champion
          ? `v${r.champion.version} ${r.champion.metrics ? r.champion.metrics.f1.toFixed(4) : 'n/a'}`
          : null,
        `${r.trials.filter((t) => t.status === 'succeeded').length}/${r.trials.length}`,
      ]);
      process.stdout.write(
        `${table(['run', 'status', 'symbol', 'timeframe', 'created', 'promoted', 'champion f1', 'trials ok'], runRows)}\n\n`,
      );
      const reports = status.runs.filter((r) => r.report).map((r) => `report of ${r.runId}: ${r.report}\n`);
      if (reports.length) process.stdout.write(`${reports.join('')}\n`);
      const modelRows = status.models.map((m) => [
        m.symbol,
        m.timeframe,
        m.current ? `v${m.current.version}` : null,
        m.current?.config ?? null,
        m.current ? m.current.f1.toFixed(4) : null,
        m.current?.uri ?? null,
      ]);
      process.stdout.write(
        `${table(['symbol', 'timeframe', 'version', 'config', 'f1', 'uri'], modelRows)}\n`,
      );
      if (status.forecasts.length) {
        const forecastRows = status.forecasts.map((f) => [
          f.symbol,
          f.timeframe,
          f.asOf,
          f.signal,
          f.probabilityUp.toFixed(4),
          `v${f.modelVersion}`,
          f.createdAt.slice(0, 19).replace('T', ' '),
        ]);
        process.stdout.write(
          `\n${table(['symbol', 'timeframe', 'after', 'signal', 'P(up)', 'model', 'forecast at'], forecastRows)}\n`,
        );
      }
      if (status.trackRecords.length)
        process.stdout.write(`\n${status.trackRecords.map(trackRecordLine).join('\n')}\n`);
    });
}
