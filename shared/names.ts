// One name for each thing, used by the functions, the adapters, the trainer and the CDKTF stack alike.

export const TOPICS = {
  trainingRequests: 'training-requests',
  trainingResults: 'training-results',
  /** A forecast to make with a symbol's current model: after a run, or for a CSV dropped under `forecast/`. */
  forecastRequests: 'forecast-requests',
  /** Cloud Scheduler publishes here every few minutes; the sweeper ends runs past their deadline. */
  runSweep: 'run-sweep',
} as const;

/** Where Pub/Sub puts a message after its last failed delivery attempt. */
export const DEAD_LETTER_TOPICS = {
  trainingRequests: `${TOPICS.trainingRequests}-dead-letter`,
  trainingResults: `${TOPICS.trainingResults}-dead-letter`,
  forecastRequests: `${TOPICS.forecastRequests}-dead-letter`,
} as const;

export const DEFAULT_REGION = 'asia-south1';

/** Object paths inside the bucket (or the local folder that stands in for it). */
export const PATHS = {
  incomingPrefix: 'incoming/',
  /** A CSV dropped here is forecast with the current model; nothing is trained. */
  forecastPrefix: 'forecast/',
  dataset: (runId: string) => `datasets/${runId}/`,
  trial: (runId: string, config: string) => `runs/${runId}/trials/${config}/`,
  /** The pointer naming the current version (the model document is the authority; this follows it). */
  modelCurrent: (symbol: string, timeframe: string) => `models/${symbol}/${timeframe}/current.json`,
  modelVersion: (symbol: string, timeframe: string, version: number) =>
    `models/${symbol}/${timeframe}/versions/v${String(version).padStart(4, '0')}/`,
} as const;

/** The grid every upload trains with unless a grid lies beside its CSV. */
export const GRID_DEFAULT_KEY = 'config/grid.json';
/** The grid beside a CSV: `incoming/<name>.grid.json` for `incoming/<name>.csv`. */
export const gridKeyFor = (csvKey: string) => csvKey.replace(/\.csv$/i, '.grid.json');

/** A CSV under `incoming/`; names with `.` or `..` segments are never taken for one (they could alias other folders). */
export const isIncomingCsv = (name: string) =>
  name.startsWith(PATHS.incomingPrefix) &&
  /\.csv$/i.test(name) &&
  !name.split('/').some((s) => s === '..' || s === '.');

/** A CSV under `forecast/`; names with `.` or `..` segments are never taken for one. */
export const isForecastCsv = (name: string) =>
  name.startsWith(PATHS.forecastPrefix) &&
  /\.csv$/i.test(name) &&
  !name.split('/').some((s) => s === '..' || s === '.');

/** Files of a dataset folder, as written by `trendcast features` and read by the trainer. */
export const DATASET_FILES = {
  features: 'features.csv',
  X: 'X.npy',
  y: 'y.npy',
  /** Per window: the timestamp and close of its last bar, and of the next bar (the target). */
  windows: 'windows.json',
  /** The unscaled features of the last bars, up to the last one (which has no target): a forecast's input. */
  latest: 'latest.json',
  manifest: 'dataset.json',
} as const;

/** Files of a trial folder, as written by the trainer. */
export const TRIAL_FILES = {
  model: 'model.json',
  metrics: 'metrics.json',
  predictions: 'predictions.json',
  history: 'history.json',
  curves: 'learning-curves.svg',
  equity: 'equity-curve.svg',
  /** The scaler and feature list the weights were trained with: a forecast applies them to new bars. */
  preprocessing: 'preprocessing.json',
  result: 'result.json',
  /** The trainer's pace while it trains (epoch, seconds per epoch, time left); the sweeper copies it to the trial. */
  progress: 'progress.json',
} as const;

/** Document paths in Firestore (or the local document store). */
export const DOCS = {
  runs: 'runs',
  run: (runId: string) => `runs/${runId}`,
  trials: (runId: string) => `runs/${runId}/trials`,
  trial: (runId: string, config: string) => `runs/${runId}/trials/${config}`,
  models: 'models',
  model: (symbol: string, timeframe: string) => `models/${symbol}_${timeframe}`,
  trainingQueue: 'trainingQueue',
  queueEntry: (runId: string, config: string) => `trainingQueue/${runId}~${config}`,
  trainingSlot: (slot: string) => `trainingSlots/${slot}`,
  forecasts: 'forecasts',
  forecast: (symbol: string, timeframe: string) => `forecasts/${symbol}_${timeframe}`,
  trackRecords: 'trackRecords',
  trackRecord: (symbol: string, timeframe: string) => `trackRecords/${symbol}_${timeframe}`,
  forecastAttempts: 'forecastAttempts',
  forecastAttempt: (attemptId: string) => `forecastAttempts/${attemptId}`,
} as const;

/** The bucket's front page (report/index-page.ts): every symbol's model, forecast, track record and runs. */
export const INDEX_PAGE = 'index.html';

/** The run report (report/render.ts): its object, and the document that makes its writing happen once per run. */
export const REPORT = {
  object: (runId: string) => `runs/${runId}/report.html`,
  claimDoc: (runId: string) => `runs/${runId}/report/claim`,
} as const;
