// A second year of RELIANCE daily bars that starts the trading day after the reference CSV ends (12-Nov-2025), in
// the same NSE quote layout (newest first). The prices are a seeded random walk from the reference's last close: the
// reference data ends there, and the tests need a later CSV of the same symbol, not real prices.

/** The file name the NSE site would give it: the symbol and timeframe come from it. */
export const CONTINUATION_NAME = 'Quote-Equity-RELIANCE-EQ-12-11-2025-to-12-11-2026.csv';
/** The reference CSV's last bar, whose next bar opens this file. */
export const REFERENCE_LAST = { timestamp: '2025-11-11', close: 1493.4 };

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function continuationCsv(bars = 247, seed = 17): string {
  let state = seed;
  const random = () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const rows: string[] = [];
  let close = REFERENCE_LAST.close;
  for (let day = Date.UTC(2025, 10, 12); rows.length < bars; day += 86_400_000) {
    const d = new Date(day);
    if (d.getUTCDay() === 0 || d.getUTCDay() === 6) continue;
    const previous = close;
    close = Math.round(previous * (1 + (random() - 0.5) * 0.03) * 100) / 100;
    const open = previous;
    const high = Math.max(open, close) * (1 + random() * 0.005);
    const low = Math.min(open, close) * (1 - random() * 0.005);
    const date = `${String(d.getUTCDate()).padStart(2, '0')}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()}`;
    const volume = 5_000_000 + Math.floor(random() * 5_000_000);
    const cells = [
      date,
      'EQ',
      open,
      high,
      low,
      previous,
      close,
      close,
      (high + low) / 2,
      1600,
      1100,
      volume,
      volume * close,
      100_000,
    ];
    rows.push(cells.map((c) => `"${typeof c === 'number' ? c.toFixed(2) : c}"`).join(','));
  }
  const header = [
    'Date ',
    'series ',
    'OPEN ',
    'HIGH ',
    'LOW ',
    'PREV. CLOSE ',
    'ltp ',
    'close ',
    'vwap ',
    '52W H ',
    '52W L ',
    'VOLUME ',
    'VALUE ',
    'No of trades ',
  ];
  return `${header.map((h) => `"${h}"`).join(',')}\n${rows.reverse().join('\n')}\n`;
}
