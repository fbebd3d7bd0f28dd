/**
 * Bars per second for the 27 features on 1,000,000 synthetic bars: trendcast's computeFeatures against
 * technicalindicators and trading-signals computing the same indicators (SMA 10/20/50, EMA 12/26/21, RSI 14,
 * MACD 12/26/9, Bollinger 20/2, ATR 14, ADX 14), side by side in one run, on one core.
 *
 *   npm run bench:features            # BENCH_BARS=200000 for a quicker look
 */
import { cpus } from 'node:os';
import * as ti from 'technicalindicators';
import * as ts from 'trading-signals';
import type { PriceColumns } from '../shared/csv.ts';
import { computeFeatures } from '../shared/features.ts';

const N = Number(process.env.BENCH_BARS ?? 1_000_000);

function syntheticBars(n: number): PriceColumns {
  let seed = 42;
  const random = () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  const [open, high, low, close, volume] = Array.from({ length: 5 }, () => new Float64Array(n));
  let last = 100;
  for (let i = 0; i < n; i++) {
    open![i] = last;
    last = Math.max(1, last * (1 + (random() - 0.5) * 0.02));
    close![i] = last;
    high![i] = Math.max(open![i]!, last) * (1 + random() * 0.005);
    low![i] = Math.min(open![i]!, last) * (1 - random() * 0.005);
    volume![i] = 1e5 + random() * 1e6;
  }
  return { length: n, open: open!, high: high!, low: low!, close: close!, volume: volume! };
}

function time(label: string, run: () => void): { label: string; seconds: number } {
  const start = process.hrtime.bigint();
  run();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { label, seconds };
}

const bars = syntheticBars(N);
const close = Array.from(bars.close);
const high = Array.from(bars.high);
const low = Array.from(bars.low);

computeFeatures(syntheticBars(10_000)); // warm up the JIT once, as a long-running service would be
const results = [
  time('trendcast computeFeatures (all 27 columns)', () => {
    computeFeatures(bars);
  }),
  time('technicalindicators (the 11 indicators only)', () => {
    for (const period of [10, 20, 50]) ti.SMA.calculate({ period, values: close });
    for (const period of [12, 26, 21]) ti.EMA.calculate({ period, values: close });
    ti.RSI.calculate({ period: 14, values: close });
    ti.MACD.calculate({
      values: close,
      fastPeriod: 12,
      slowPeriod: 26,
      signalPeriod: 9,
      SimpleMAOscillator: false,
      SimpleMASignal: false,
    });
    ti.BollingerBands.calculate({ period: 20, values: close, stdDev: 2 });
    ti.ATR.calculate({ high, low, close, period: 14 });
    ti.ADX.calculate({ high, low, close, period: 14 });
  }),
  time('trading-signals (the 11 indicators only)', () => {
    const indicators = [
      new ts.SMA(10),
      new ts.SMA(20),
      new ts.SMA(50),
      new ts.EMA(12),
      new ts.EMA(26),
      new ts.EMA(21),
      new ts.RSI(14),
      new ts.MACD(new ts.EMA(12), new ts.EMA(26), new ts.EMA(9)),
      new ts.BollingerBands(20, 2),
    ];
    const candles = [new ts.ATR(14), new ts.ADX(14)];
    for (let i = 0; i < N; i++) {
      for (const indicator of indicators) indicator.update(close[i]!, false);
      const candle = { high: high[i]!, low: low[i]!, close: close[i]! };
      for (const indicator of candles) indicator.update(candle, false);
    }
  }),
];

const ours = results[0]!.seconds;
const fastest = Math.min(results[1]!.seconds, results[2]!.seconds);
console.log(`${N.toLocaleString('en')} bars, Node ${process.version}, ${cpus()[0]?.model}, one core`);
console.log('| implementation | seconds | bars/second |');
console.log('|---|---:|---:|');
for (const r of results)
  console.log(`| ${r.label} | ${r.seconds.toFixed(3)} | ${Math.round(N / r.seconds).toLocaleString('en')} |`);
console.log(
  `speed-up over the faster library: ${(fastest / ours).toFixed(1)}x; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
);
