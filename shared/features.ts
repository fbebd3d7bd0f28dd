import type { Bar } from './csv.ts';
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
export function computeFeatures(bars: readonly Bar[]): FeatureTable {
  const n = bars.length;
  const col = (f: (b: Bar) => number) => Float64Array.from(bars, f);
  const open = col((b) => b.open);
  const high = col((b) => b.high);
  const low = col((b) => b.low);
  const close = col((b) => b.close);
  const volume = col((b) => b.volume);

  const sma20 = sma(close, 20);
  const ema21 = ema(close, 21);
  const m = macd(close, 12, 26, 9);
  const bb = bollinger(close, 20, 2, 2);
  const bbWidth = new Float64Array(n);
  const returns = new Float64Array(n);
  const logReturns = new Float64Array(n);
  const volChange = new Float64Array(n);
  const vsSma20 = new Float64Array(n);
  const vsEma21 = new Float64Array(n);
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
  const columns = [
    open,
    high,
    low,
    close,
    volume,
    sma(close, 10),
    sma20,
    sma(close, 50),
    ema(close, 12),
    ema(close, 26),
    ema21,
    rsi(close, 14),
    m.macd,
    m.signal,
    m.hist,
    bb.upper,
    bb.middle,
    bb.lower,
    bbWidth,
    atr(high, low, close, 14),
    adx(high, low, close, 14),
    returns,
    logReturns,
    volChange,
    rollingSampleStd(returns, 20),
    vsSma20,
    vsEma21,
  ];
  return { names: FEATURE_NAMES, columns, length: n };
}
