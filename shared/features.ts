import type { PriceColumns } from './csv.ts';
import { adx, atr, bollinger, ema, macd, rollingSampleStd, rsi, sma } from './indicators.ts';

/** The 27 features, in the reference pipeline's order: the columns of features.csv and the last axis of X.npy. */
export const FEATURE_NAMES = [
  'Open',
  'High',
  'Low',
  'Close',
  'Volume',
  'SMA_10',
  'SMA_20',
  'SMA_50',
  'EMA_12',
  'EMA_26',
  'EMA_21',
  'RSI',
  'MACD',
  'MACD_signal',
  'MACD_diff',
  'BB_upper',
  'BB_middle',
  'BB_lower',
  'BB_width',
  'ATR',
  'ADX',
  'Returns',
  'Log_Returns',
  'Volume_Change',
  'Volatility',
  'Price_vs_SMA20',
  'Price_vs_EMA21',
] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];

/** One Float64Array per feature, in FEATURE_NAMES order, each as long as the bars; NaN during warm-up. */
export type FeatureTable = { names: readonly FeatureName[]; columns: Float64Array[]; length: number };

/**
 * Volume_Change = volume / previous volume − 1, kept finite: when the previous volume is 0 it is 0 if the volume is
 * also 0, and 1 (counted as a doubling) otherwise.
 */
export function volumeChange(volume: number, previous: number): number {
  if (previous === 0) return volume === 0 ? 0 : 1;
  return volume / previous - 1;
}

/** Computes the 27 features with TA-Lib's definitions and warm-up (see shared/indicators.ts). */
export function computeFeatures(bars: PriceColumns): FeatureTable {
  const n = bars.length;
  // One allocation for the whole table; each indicator writes into its own column.
  const table = new Float64Array(FEATURE_NAMES.length * n);
  const columns = FEATURE_NAMES.map((_, c) => table.subarray(c * n, (c + 1) * n));
  const at = (name: FeatureName) => columns[FEATURE_NAMES.indexOf(name)]!;
  const [open, high, low, close, volume] = [at('Open'), at('High'), at('Low'), at('Close'), at('Volume')];
  open.set(bars.open);
  high.set(bars.high);
  low.set(bars.low);
  close.set(bars.close);
  volume.set(bars.volume);
  sma(close, 10, at('SMA_10'));
  const sma20 = sma(close, 20, at('SMA_20'));
  sma(close, 50, at('SMA_50'));
  ema(close, 12, 11, at('EMA_12'));
  ema(close, 26, 25, at('EMA_26'));
  const ema21 = ema(close, 21, 20, at('EMA_21'));
  rsi(close, 14, at('RSI'));
  macd(close, 12, 26, 9, { macd: at('MACD'), signal: at('MACD_signal'), hist: at('MACD_diff') });
  const bb = bollinger(close, 20, 2, 2, {
    upper: at('BB_upper'),
    middle: at('BB_middle'),
    lower: at('BB_lower'),
  });
  atr(high, low, close, 14, at('ATR'));
  adx(high, low, close, 14, at('ADX'));
  const bbWidth = at('BB_width');
  const returns = at('Returns');
  const logReturns = at('Log_Returns');
  const volChange = at('Volume_Change');
  const vsSma20 = at('Price_vs_SMA20');
  const vsEma21 = at('Price_vs_EMA21');
  returns[0] = logReturns[0] = volChange[0] = Number.NaN;
  for (let i = 0; i < n; i++) {
    bbWidth[i] = (bb.upper[i]! - bb.lower[i]!) / bb.middle[i]!;
    vsSma20[i] = (100 * (close[i]! - sma20[i]!)) / sma20[i]!;
    vsEma21[i] = (100 * (close[i]! - ema21[i]!)) / ema21[i]!;
    if (i === 0) continue;
    returns[i] = close[i]! / close[i - 1]! - 1;
    logReturns[i] = Math.log(close[i]! / close[i - 1]!);
    volChange[i] = volumeChange(volume[i]!, volume[i - 1]!);
  }
  rollingSampleStd(returns, 20, at('Volatility'));
  return { names: FEATURE_NAMES, columns, length: n };
}

/** The first bar from which every feature is defined (the indicators' warm-up is behind it). */
export function firstDefinedBar(table: FeatureTable): number {
  return table.columns.reduce((start, c) => {
    let i = 0;
    while (i < c.length && Number.isNaN(c[i]!)) i++;
    return Math.max(start, i);
  }, 0);
}
