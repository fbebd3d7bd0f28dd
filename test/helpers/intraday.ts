// A year of 5-minute bars, generated: shared by the training benchmark and the tests of the time estimate.

/** mulberry32, for a repeatable synthetic price series. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A year of 5-minute bars as a plain OHLCV CSV: NSE sessions (09:15-15:25 IST, 75 bars), weekdays, a random walk.
 * 18,379 bars give 18,270 windows: 14,616 training and 3,654 validation.
 */
export function intradayCsv(bars = 18_379): string {
  const next = random(7);
  const lines = ['Date,Open,High,Low,Close,Volume'];
  let close = 1000;
  let day = Date.UTC(2025, 0, 1);
  while (lines.length <= bars) {
    const weekday = new Date(day).getUTCDay();
    if (weekday !== 0 && weekday !== 6) {
      for (let bar = 0; bar < 75 && lines.length <= bars; bar++) {
        const minutes = 9 * 60 + 15 + 5 * bar;
        const time = `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
        const open = close;
        close = open * (1 + (next() - 0.5) * 0.004);
        const high = Math.max(open, close) * (1 + next() * 0.001);
        const low = Math.min(open, close) * (1 - next() * 0.001);
        const volume = Math.round(10_000 + next() * 90_000);
        const date = new Date(day).toISOString().slice(0, 10);
        lines.push(
          `${date}T${time}:00+05:30,${open.toFixed(2)},${high.toFixed(2)},${low.toFixed(2)},${close.toFixed(2)},${volume}`,
        );
      }
    }
    day += 86_400_000;
  }
  return `${lines.join('\n')}\n`;
}
