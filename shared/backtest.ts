// What a trial's predictions would have earned on its validation windows, in time order, after costs.

export const DEFAULT_COST_BPS = 10;
export const DEFAULT_THRESHOLD = 0.5;

/** NSE's continuous session, 09:15 to 15:30 IST: the minutes of one trading day. */
export const SESSION_MINUTES = 375;
export const TRADING_DAYS_PER_YEAR = 252;

/**
 * Bars per year for a timeframe name as the CSV reader gives it (`1d`, `1w`, `1mo`, `15m`, `1h`, ...): 252 for daily
 * bars, 52 weekly, 12 monthly; intraday, 252 × bars per trading day, where bars per trading day is
 * ceil(375 / bar minutes) (a 375-minute NSE session; the last, shorter bar of the day counts: 7 hourly bars).
 */
export function periodsPerYear(timeframe: string): number {
  if (timeframe === '1d') return TRADING_DAYS_PER_YEAR;
  if (timeframe === '1w') return 52;
  if (timeframe === '1mo') return 12;
  const match = /^(\d+)(m|h)$/.exec(timeframe);
  if (!match) throw new RangeError(`periodsPerYear: unknown timeframe "${timeframe}"`);
  const minutes = Number(match[1]) * (match[2] === 'h' ? 60 : 1);
  if (minutes < 1) throw new RangeError(`periodsPerYear: timeframe "${timeframe}" has no length`);
  return TRADING_DAYS_PER_YEAR * Math.ceil(SESSION_MINUTES / minutes);
}

export type BacktestOptions = {
  /** Go long when P(up) ≥ threshold; otherwise flat (or short when allowShort). */
  threshold: number;
  /** Cost per unit of position change, in basis points of the traded value. */
  costBps: number;
  allowShort: boolean;
  periodsPerYear: number;
};

export type Backtest = {
  totalReturn: number;
  buyHoldReturn: number;
  sharpe: number;
  maxDrawdown: number;
  trades: number;
  exposure: number;
  costBps: number;
  threshold: number;
  allowShort: boolean;
  periodsPerYear: number;
};

/** The position each window takes: 1 long, 0 flat, −1 short. */
export function positions(
  probabilities: ArrayLike<number>,
  options: Pick<BacktestOptions, 'threshold' | 'allowShort'>,
): number[] {
  return Array.from(probabilities, (p) => (p >= options.threshold ? 1 : options.allowShort ? -1 : 0));
}

/**
 * The per-window returns of the strategy and of buy-and-hold. Window i ends on the bar with close `close[i]`; its
 * target is the next bar: r_i = nextClose_i / close_i − 1, s_i = p_i·r_i − c·|p_i − p_(i−1)| with p_(−1) = 0, and
 * b_i = r_i, less c at i = 0 (buying in).
 */
export function backtestReturns(
  close: ArrayLike<number>,
  nextClose: ArrayLike<number>,
  position: ArrayLike<number>,
  costBps: number,
): { strategy: number[]; buyHold: number[] } {
  const n = close.length;
  if (nextClose.length !== n || position.length !== n) {
    throw new RangeError(
      `backtest: ${n} closes, ${nextClose.length} next closes and ${position.length} positions differ`,
    );
  }
  const c = costBps / 10_000;
  const strategy: number[] = [];
  const buyHold: number[] = [];
  let previous = 0;
  for (let i = 0; i < n; i++) {
    const r = nextClose[i]! / close[i]! - 1;
    const p = position[i]!;
    strategy.push(p * r - c * Math.abs(p - previous));
    buyHold.push(i === 0 ? r - c : r);
    previous = p;
  }
  return { strategy, buyHold };
}

/** Equity after each window, starting from 1: E_j = Π_(i ≤ j) (1 + s_i). */
export function equityCurve(returns: readonly number[]): number[] {
  let equity = 1;
  return returns.map((s) => {
    equity *= 1 + s;
    return equity;
  });
}

/** The largest fall of the equity from its running peak (the peak starts at 1), as a share of that peak. */
export function maxDrawdown(returns: readonly number[]): number {
  let peak = 1;
  let worst = 0;
  for (const equity of equityCurve(returns)) {
    peak = Math.max(peak, equity);
    worst = Math.max(worst, (peak - equity) / peak);
  }
  return worst;
}

/**
 * mean / population standard deviation × √(periods per year); 0 when every return is the same (the deviation is 0:
 * testing for exact equality rather than a computed 1e-18 keeps a constant series from a meaningless huge ratio).
 */
export function sharpeRatio(returns: readonly number[], periodsPerYear: number): number {
  const n = returns.length;
  if (n === 0 || returns.every((s) => s === returns[0])) return 0;
  const mean = returns.reduce((a, b) => a + b, 0) / n;
  const variance = returns.reduce((a, s) => a + (s - mean) ** 2, 0) / n;
  return (mean / Math.sqrt(variance)) * Math.sqrt(periodsPerYear);
}

const compound = (returns: readonly number[]) => returns.reduce((e, s) => e * (1 + s), 1) - 1;

/** Every backtest figure of one trial, from the validation windows' closes and predicted probabilities in time order. */
export function backtest(
  input: { close: ArrayLike<number>; nextClose: ArrayLike<number>; probabilities: ArrayLike<number> },
  options: BacktestOptions,
): Backtest {
  const position = positions(input.probabilities, options);
  const { strategy, buyHold } = backtestReturns(input.close, input.nextClose, position, options.costBps);
  let trades = 0;
  position.forEach((p, i) => {
    if (p !== (i === 0 ? 0 : position[i - 1])) trades++;
  });
  return {
    totalReturn: compound(strategy),
    buyHoldReturn: compound(buyHold),
    sharpe: sharpeRatio(strategy, options.periodsPerYear),
    maxDrawdown: maxDrawdown(strategy),
    trades,
    exposure: position.length ? position.filter((p) => p !== 0).length / position.length : 0,
    costBps: options.costBps,
    threshold: options.threshold,
    allowShort: options.allowShort,
    periodsPerYear: options.periodsPerYear,
  };
}
