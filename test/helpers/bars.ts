import type { Bars } from '../../shared/csv.ts';

/** A series' columns as one plain object per bar: what tests compare against. */
export const barList = (bars: Bars) =>
  Array.from({ length: bars.length }, (_, i) => ({
    timestamp: bars.timestamp(i),
    time: bars.time[i]!,
    open: bars.open[i]!,
    high: bars.high[i]!,
    low: bars.low[i]!,
    close: bars.close[i]!,
    volume: bars.volume[i]!,
  }));
