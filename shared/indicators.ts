// Technical indicators with TA-Lib's definitions and warm-up, as tight loops over Float64Array.
// Written here rather than taken from technicalindicators or trading-signals: those differ from TA-Lib in seeding
// and smoothing, allocate an object per bar, and are several times slower (see bench/RESULTS.md).
// Every output has the input's length; values before the warm-up ends are NaN.

export type Series = Float64Array;

/** The output column: `out` when the caller gives one (one allocation for a whole table), else a new array. */
const column = (n: number, out?: Series) => (out ?? new Float64Array(n)).fill(Number.NaN);

/** TA-Lib's test for zero: |v| < 1e-8. */
const isZero = (v: number) => v > -1e-8 && v < 1e-8;

/** Simple moving average; first value at index period-1. Sums in TA-Lib's order so flat stretches match it bit for bit. */
export function sma(x: Series, period: number, out?: Series): Series {
  const result = column(x.length, out);
  let sum = 0;
  for (let i = 0; i < Math.min(period - 1, x.length); i++) sum += x[i]!;
  for (let i = period - 1; i < x.length; i++) {
    sum += x[i]!;
    result[i] = sum / period;
    sum -= x[i - period + 1]!;
  }
  return result;
}

/**
 * EMA with k = 2/(period+1), seeded as TA-Lib does: the first value, at `seedEnd`, is the SMA of the `period` values
 * ending there. A plain EMA seeds at period-1; MACD seeds its fast EMA later so that it starts with the slow one.
 */
export function ema(x: Series, period: number, seedEnd = period - 1, out?: Series): Series {
  const result = column(x.length, out);
  if (seedEnd >= x.length) return result;
  const k = 2 / (period + 1);
  let sum = 0;
  for (let i = seedEnd - period + 1; i <= seedEnd; i++) sum += x[i]!;
  let prev = sum / period;
  result[seedEnd] = prev;
  for (let i = seedEnd + 1; i < x.length; i++) {
    prev = (x[i]! - prev) * k + prev;
    result[i] = prev;
  }
  return result;
}

/** RSI with Wilder's smoothing, TA-Lib style: first value at index `period`; 0 when there was no movement. */
export function rsi(close: Series, period: number, out?: Series): Series {
  const result = column(close.length, out);
  if (close.length <= period) return result;
  let gain = 0;
  let loss = 0;
  for (let i = 1; i <= period; i++) {
    const d = close[i]! - close[i - 1]!;
    if (d < 0) loss -= d;
    else gain += d;
  }
  gain /= period;
  loss /= period;
  result[period] = isZero(gain + loss) ? 0 : (100 * gain) / (gain + loss);
  for (let i = period + 1; i < close.length; i++) {
    const d = close[i]! - close[i - 1]!;
    gain *= period - 1;
    loss *= period - 1;
    if (d < 0) loss -= d;
    else gain += d;
    gain /= period;
    loss /= period;
    result[i] = isZero(gain + loss) ? 0 : (100 * gain) / (gain + loss);
  }
  return result;
}

/** MACD(fast, slow, signal) as TA-Lib computes it: both EMAs start at index slow-1, the signal EMA seeds on the MACD. */
export function macd(
  close: Series,
  fast = 12,
  slow = 26,
  signal = 9,
  out: { macd?: Series; signal?: Series; hist?: Series } = {},
): { macd: Series; signal: Series; hist: Series } {
  const n = close.length;
  const start = slow - 1;
  const line = column(n, out.macd);
  const hist = column(n, out.hist);
  const signalStart = start + signal - 1;
  if (n <= signalStart) return { macd: line, signal: column(n, out.signal), hist };
  const slowEma = ema(close, slow, start);
  const fastEma = ema(close, fast, start);
  for (let i = start; i < n; i++) line[i] = fastEma[i]! - slowEma[i]!;
  const sig = ema(line, signal, signalStart, out.signal); // seeded on the first `signal` MACD values
  // TA-Lib reports all three from the signal's first value on.
  for (let i = start; i < signalStart; i++) line[i] = Number.NaN;
  for (let i = signalStart; i < n; i++) hist[i] = line[i]! - sig[i]!;
  return { macd: line, signal: sig, hist };
}

/** Bollinger bands (period, k up, k down) on an SMA with the population deviation, as TA-Lib's BBANDS. */
export function bollinger(
  close: Series,
  period = 20,
  kUp = 2,
  kDown = 2,
  out: { upper?: Series; middle?: Series; lower?: Series } = {},
): { upper: Series; middle: Series; lower: Series } {
  const n = close.length;
  const middle = sma(close, period, out.middle);
  const upper = column(n, out.upper);
  const lower = column(n, out.lower);
  let sumSq = 0;
  for (let i = 0; i < Math.min(period - 1, n); i++) sumSq += close[i]! * close[i]!;
  for (let i = period - 1; i < n; i++) {
    sumSq += close[i]! * close[i]!;
    const mean = middle[i]!;
    const variance = sumSq / period - mean * mean;
    sumSq -= close[i - period + 1]! * close[i - period + 1]!;
    const sd = variance < 1e-8 ? 0 : Math.sqrt(variance); // TA-Lib: zero or negative variance gives 0
    upper[i] = mean + kUp * sd;
    lower[i] = mean - kDown * sd;
  }
  return { upper, middle, lower };
}

/** True range at i (needs the previous close): max(high, prevClose) - min(low, prevClose). */
function trueRange(h: number, l: number, prevClose: number): number {
  let tr = h - l;
  const up = Math.abs(h - prevClose);
  const down = Math.abs(l - prevClose);
  if (up > tr) tr = up;
  if (down > tr) tr = down;
  return tr;
}

/** ATR with Wilder's smoothing: the first value, at index `period`, is the mean true range of bars 1..period. */
export function atr(high: Series, low: Series, close: Series, period = 14, out?: Series): Series {
  const n = close.length;
  const result = column(n, out);
  if (n <= period) return result;
  let sum = 0;
  for (let i = 1; i <= period; i++) sum += trueRange(high[i]!, low[i]!, close[i - 1]!);
  let prev = sum / period;
  result[period] = prev;
  for (let i = period + 1; i < n; i++) {
    prev = (prev * (period - 1) + trueRange(high[i]!, low[i]!, close[i - 1]!)) / period;
    result[i] = prev;
  }
  return result;
}

/** ADX as TA-Lib computes it (Wilder sums of DM and TR, DX averaged, then smoothed); first value at 2·period-1. */
export function adx(high: Series, low: Series, close: Series, period = 14, out?: Series): Series {
  const n = close.length;
  const result = column(n, out);
  const first = 2 * period - 1;
  if (n <= first) return result;
  let plusDM = 0;
  let minusDM = 0;
  let tr = 0;
  // Directional movement of bar i against bar i-1, TA-Lib's rule: only the larger move counts, and only if positive.
  let p = 0;
  let m = 0;
  const directionalMovement = (i: number) => {
    const up = high[i]! - high[i - 1]!;
    const down = low[i - 1]! - low[i]!;
    m = down > 0 && up < down ? down : 0;
    p = m === 0 && up > 0 && up > down ? up : 0;
  };
  for (let i = 1; i < period; i++) {
    directionalMovement(i);
    plusDM += p;
    minusDM += m;
    tr += trueRange(high[i]!, low[i]!, close[i - 1]!);
  }
  const step = (i: number): number | undefined => {
    directionalMovement(i);
    plusDM += p - plusDM / period;
    minusDM += m - minusDM / period;
    tr += trueRange(high[i]!, low[i]!, close[i - 1]!) - tr / period;
    if (isZero(tr)) return undefined;
    const plusDI = (100 * plusDM) / tr;
    const minusDI = (100 * minusDM) / tr;
    const sum = plusDI + minusDI;
    return isZero(sum) ? undefined : (100 * Math.abs(minusDI - plusDI)) / sum;
  };
  let sumDX = 0;
  for (let i = period; i <= first; i++) sumDX += step(i) ?? 0;
  let prev = sumDX / period;
  result[first] = prev;
  for (let i = first + 1; i < n; i++) {
    const dx = step(i);
    if (dx !== undefined) prev = (prev * (period - 1) + dx) / period;
    result[i] = prev;
  }
  return result;
}

/** Sample standard deviation (n-1) over a trailing window; NaN until the window holds `period` defined values. */
export function rollingSampleStd(x: Series, period: number, out?: Series): Series {
  const n = x.length;
  const result = column(n, out);
  for (let i = period - 1; i < n; i++) {
    let mean = 0;
    let ok = true;
    for (let j = i - period + 1; j <= i; j++) {
      if (Number.isNaN(x[j]!)) {
        ok = false;
        break;
      }
      mean += x[j]!;
    }
    if (!ok) continue;
    mean /= period;
    let ss = 0;
    for (let j = i - period + 1; j <= i; j++) ss += (x[j]! - mean) ** 2;
    result[i] = Math.sqrt(ss / (period - 1));
  }
  return result;
}
