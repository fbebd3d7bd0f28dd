// Builders for the documents and messages the pipeline tests seed; every one is validated by its schema.
import { DEFAULT_GRID, type GridInput } from '../../shared/config.ts';
import { ModelDoc, RunDoc, TrialDoc } from '../../shared/documents.ts';
import { TrainingResult, TrialMetrics } from '../../shared/messages.ts';

export function metrics(over: Partial<TrialMetrics> = {}): TrialMetrics {
  return TrialMetrics.parse({
    valLoss: 0.69,
    accuracy: 0.6,
    auc: 0.6,
    precision: 0.6,
    recall: 0.6,
    f1: 0.6,
    mcc: 0.2,
    balancedAccuracy: 0.6,
    baselineAccuracy: 0.55,
    degenerate: false,
    confusion: { tp: 8, fp: 5, tn: 9, fn: 6 },
    pValue: 0.01,
    accuracyInterval: { low: 0.42, high: 0.76 },
    backtest: {
      totalReturn: 0.02,
      buyHoldReturn: 0.01,
      sharpe: 0.5,
      maxDrawdown: 0.03,
      trades: 6,
      exposure: 0.5,
      costBps: 10,
      threshold: 0.5,
      allowShort: false,
      periodsPerYear: 252,
    },
    backend: 'test',
    epochsRun: 3,
    bestEpoch: 2,
    seconds: 1,
    parameterCount: 100,
    ...over,
  });
}

export function runDoc(runId: string, configs: string[], over: Partial<RunDoc> = {}): RunDoc {
  const t = new Date().toISOString();
  return RunDoc.parse({
    runId,
    status: 'training',
    source: { bucket: 'local', object: 'incoming/x.csv', generation: '1' },
    symbol: 'TEST',
    timeframe: '1d',
    configs,
    gate: true,
    createdAt: t,
    updatedAt: t,
    finishedAt: null,
    deadline: new Date(Date.now() + 3600_000).toISOString(),
    error: null,
    dataset: null,
    reason: null,
    ranking: [],
    promotion: null,
    ...over,
  });
}

export function trialDoc(runId: string, config: string, over: Partial<TrialDoc> = {}): TrialDoc {
  const t = new Date().toISOString();
  return TrialDoc.parse({
    runId,
    config,
    status: 'training',
    hyperparameters: { ...DEFAULT_GRID.configs[0]!, name: config },
    jobId: null,
    createdAt: t,
    updatedAt: t,
    startedAt: t,
    finishedAt: null,
    metrics: null,
    artifacts: null,
    error: null,
    ...over,
  });
}

export function succeeded(
  runId: string,
  config: string,
  m: Partial<TrialMetrics>,
  baseUri: string,
): TrainingResult {
  const dir = `${baseUri}runs/${runId}/trials/${config}/`;
  return TrainingResult.parse({
    status: 'succeeded',
    runId,
    config,
    metrics: metrics(m),
    artifacts: {
      model: `${dir}model.json`,
      metrics: `${dir}metrics.json`,
      predictions: `${dir}predictions.json`,
      history: `${dir}history.json`,
      curves: `${dir}learning-curves.svg`,
      equity: `${dir}equity-curve.svg`,
    },
    finishedAt: new Date().toISOString(),
  });
}

/** The smallest config worth training: a few seconds per trial, for tests that need real trainers. */
/** The default grid, each LSTM a sixteenth of its size, `epochs` epochs: the reference configs, quick to train. */
export const smallDefaultGrid = (epochs: number): GridInput => ({
  ...DEFAULT_GRID,
  configs: DEFAULT_GRID.configs.map((c) => ({
    ...c,
    epochs,
    lstmUnits: c.lstmUnits.map((u) => Math.max(2, u / 16)) as [number, number, number],
  })),
});

export const tinyConfig = (name: string, epochs = 2) => ({
  name,
  lstmUnits: [4, 4, 4] as [number, number, number],
  dropout: 0.1,
  learningRate: 0.01,
  batchSize: 32,
  epochs,
});

/** A model document whose current version `version` came from config `config` of an older run. */
export function modelDoc(version: number, config: string): ModelDoc {
  return ModelDoc.parse({
    symbol: 'TEST',
    timeframe: '1d',
    latestVersion: version,
    current: {
      version,
      runId: 'run-old',
      config,
      f1: 0.6,
      auc: 0.6,
      accuracy: 0.6,
      uri: 'file:///x/',
      promotedAt: 't',
    },
    history: [],
    updatedAt: 't',
  });
}
