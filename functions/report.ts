import type { z } from 'zod';
import {
  architectureOf,
  closesOf,
  Forecast,
  History,
  historyPoints,
  ReportPredictions,
  TrialExtras,
} from '../report/inputs.ts';
import type { ReportInput, TrialReport } from '../report/render.ts';
import { FINAL_RUN_STATUSES, type RunDoc, type TrialDoc } from '../shared/documents.ts';
import { InputError } from '../shared/errors.ts';
import { DATASET_FILES, DOCS, PATHS, REPORT, TRIAL_FILES } from '../shared/names.ts';
import type { Deps } from '../shared/ports.ts';
import { readRun, readTrials } from '../shared/records.ts';
import { parseJson, parseWith } from '../shared/validate.ts';
import { nowIso } from './pubsub.ts';

/** A report claim older than this is taken to belong to a delivery that died, and is taken over. */
const CLAIM_LEASE_MS = 2 * 60_000;

type ReportDeps = Pick<Deps, 'store' | 'docs' | 'log'>;

/** The forecaster's document for a symbol and timeframe. */
const forecastDoc = (symbol: string, timeframe: string) => `forecasts/${symbol}_${timeframe}`;

async function readText(deps: ReportDeps, key: string): Promise<string | undefined> {
  if (!(await deps.store.exists(key))) return undefined;
  return (await deps.store.read(key)).toString('utf8');
}

/**
 * Reads one artifact; a missing or malformed one becomes a line in the report instead of stopping it. `parse` gets
 * the text and the file's name, for errors that say where.
 */
async function artifact<T>(
  deps: ReportDeps,
  key: string,
  parse: (text: string, name: string) => T,
  problems: string[],
): Promise<T | undefined> {
  const text = await readText(deps, key);
  const name = key.slice(key.lastIndexOf('/') + 1);
  if (text === undefined) {
    problems.push(`${name} is missing`);
    return undefined;
  }
  try {
    return parse(text, name);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    problems.push(`could not be read: ${error.message}`);
    return undefined;
  }
}

/** A JSON artifact checked against its schema, with errors that name the file and the field. */
const jsonOf =
  <S extends z.ZodType>(schema: S) =>
  (text: string, name: string): z.output<S> =>
    parseWith(schema, parseJson(text, name), name);

async function trialReport(deps: ReportDeps, doc: TrialDoc): Promise<TrialReport> {
  const problems: string[] = [];
  if (doc.status !== 'succeeded') return { doc, extras: {}, problems };
  const prefix = PATHS.trial(doc.runId, doc.config);
  const [extras, history, predictions, layers] = await Promise.all([
    artifact(deps, prefix + TRIAL_FILES.metrics, jsonOf(TrialExtras), problems),
    artifact(deps, prefix + TRIAL_FILES.history, (t, n) => historyPoints(jsonOf(History)(t, n)), problems),
    artifact(deps, prefix + TRIAL_FILES.predictions, jsonOf(ReportPredictions), problems),
    artifact(deps, prefix + TRIAL_FILES.model, (t, n) => architectureOf(parseJson(t, n), n), problems),
  ]);
  return {
    doc,
    // The trial document may carry the newer metrics too; metrics.json wins where both have them.
    extras: { ...TrialExtras.parse(doc.metrics ?? {}), ...stripUndefined(extras ?? {}) },
    problems,
    ...(history ? { history } : {}),
    ...(predictions ? { predictions } : {}),
    ...(layers ? { layers } : {}),
  };
}

const stripUndefined = <T extends object>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

/** Everything the report shows, read through the ports. */
async function gatherReport(run: RunDoc, deps: ReportDeps): Promise<ReportInput> {
  if (run.status === 'failed') return { run, trials: [] };
  const docs = await readTrials(deps.docs, run.runId);
  const order = new Map(run.configs.map((c, i) => [c, i]));
  docs.sort((a, b) => (order.get(a.config) ?? 0) - (order.get(b.config) ?? 0));
  const trials = await Promise.all(docs.map((d) => trialReport(deps, d)));
  const problems: string[] = [];
  const prices = await artifact(deps, PATHS.dataset(run.runId) + DATASET_FILES.features, closesOf, problems);
  if (problems.length) deps.log.warn(`report of ${run.runId}: ${problems.join('; ')}`);
  const forecastData =
    run.symbol && run.timeframe ? await deps.docs.get(forecastDoc(run.symbol, run.timeframe)) : undefined;
  const forecast = forecastData ? Forecast.safeParse(forecastData) : undefined;
  return {
    run,
    trials,
    ...(prices ? { prices } : {}),
    ...(forecast?.success ? { forecast: forecast.data } : {}),
  };
}

/**
 * Claims the right to write a run's report: the first delivery to create the claim document writes it, a
 * duplicate delivery that finds a fresh claim leaves it alone, and a claim older than the lease is taken over.
 */
async function claimReport(runId: string, deps: ReportDeps): Promise<boolean> {
  const path = REPORT.claimDoc(runId);
  if (await deps.docs.create(path, { runId, claimedAt: nowIso() })) return true;
  return deps.docs.runTransaction(async (tx) => {
    const claim = await tx.get(path);
    if (claim && Date.now() - Date.parse(String(claim.claimedAt)) < CLAIM_LEASE_MS) return false;
    tx.set(path, { runId, claimedAt: nowIso() });
    return true;
  });
}

/**
 * Writes `runs/<runId>/report.html` for a decided (promoted, rejected or failed) run and sets `reportUri` on the
 * run. Exactly once per run: a run that has its reportUri, or whose report another delivery is writing, is left
 * alone. Resolves to the report's URI, or undefined when the run is not decided or someone else is writing it.
 */
export async function writeRunReport(runId: string, deps: ReportDeps): Promise<string | undefined> {
  const run = await readRun(deps.docs, runId);
  if (!run || !FINAL_RUN_STATUSES.has(run.status)) return undefined;
  const key = REPORT.object(runId);
  const uri = deps.store.baseUri + key;
  if (run.reportUri) return run.reportUri;
  if (!(await claimReport(runId, deps))) return undefined;

  if (!(await deps.store.exists(key))) {
    // Loaded when a report is written, not with every function: Vega is about 55 MB of memory at start.
    const { renderReport } = await import('../report/render.ts');
    const html = await renderReport(await gatherReport(run, deps));
    await deps.store.write(key, html, 'text/html; charset=utf-8');
  }
  await deps.docs.runTransaction(async (tx) => {
    const current = await readRun(tx, runId);
    if (current && !current.reportUri)
      tx.set(DOCS.run(runId), { reportUri: uri, updatedAt: nowIso() }, { merge: true });
  });
  deps.log.info(`report written: ${uri}`, { runId });
  return uri;
}
