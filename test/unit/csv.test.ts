import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePriceCsv } from '../../shared/csv.ts';
import { barList } from '../helpers/bars.ts';
import { REFERENCE_CSV } from '../helpers/cli.ts';

const csv = (text: string) => Buffer.from(text);

describe('parsePriceCsv: layouts', () => {
  it('reads the NSE equity quote export: BOM, trailing spaces, mixed case, Indian grouping, newest first', () => {
    const s = parsePriceCsv(
      readFileSync(REFERENCE_CSV),
      'Quote-Equity-RELIANCE-EQ-12-11-2024-to-12-11-2025.csv',
    );
    expect(s.symbol).toBe('RELIANCE');
    expect(s.timeframe).toBe('1d');
    expect(s.bars).toHaveLength(247);
    expect(barList(s.bars)[0]).toEqual({
      timestamp: '2024-11-12',
      time: Date.UTC(2024, 10, 12),
      open: 1275.55,
      high: 1289.3,
      low: 1267.5,
      close: 1274.25,
      volume: 10671091,
    });
    expect(barList(s.bars).at(-1)!.timestamp).toBe('2025-11-11');
    expect(barList(s.bars).find((b) => b.timestamp === '2025-11-06')!.volume).toBe(16772678); // "1,67,72,678"
  });

  it("reads NSE's upper-case unquoted layout", () => {
    const text = [
      'DATE,SERIES,OPEN,HIGH,LOW,PREV. CLOSE,LTP,CLOSE,VWAP,52W H,52W L,VOLUME,VALUE,NO. OF  TRADES',
      '11-Nov-2025,EQ,"1,497.00",1498.80,1480.20,1489.30,1493.80,"1,493.40",1489.58,1551.00,1114.85,"71,27,506",1061697677180,149607',
      '10-Nov-2025,EQ,1477.90,1501.00,1475.50,1478.00,1490.10,1489.30,1492.69,1551.00,1114.85,7068438,1055097825430,154602',
    ].join('\n');
    const s = parsePriceCsv(csv(text), 'Quote-Equity-TCS-EQ-01-01-2025-to-11-11-2025.csv');
    expect(s.symbol).toBe('TCS');
    expect(barList(s.bars).map((b) => [b.timestamp, b.close, b.volume])).toEqual([
      ['2025-11-10', 1489.3, 7068438],
      ['2025-11-11', 1493.4, 7127506],
    ]);
  });

  it('reads NSE index exports with Shares Traded and upper-case months', () => {
    const text = [
      'Date ,Open ,High ,Low ,Close ,Shares Traded ,Turnover (₹ Cr)',
      '12-NOV-2025,25600.1,25700.5,25550.0,25694.95,312345678,28123.45',
      '11-NOV-2025,25500.0,25610.0,25480.2,25574.35,298765432,27001.1',
    ].join('\n');
    const s = parsePriceCsv(csv(text), 'NIFTY 50-12-11-2024-to-12-11-2025.csv');
    expect(s.symbol).toBe('NIFTY50');
    expect(barList(s.bars).map((b) => b.timestamp)).toEqual(['2025-11-11', '2025-11-12']);
    expect(barList(s.bars)[1]!.volume).toBe(312345678);
  });

  it('reads plain OHLCV exports in any case, ignoring Adj Close and extra columns', () => {
    const text =
      'date,OPEN,High,low,Close,Adj Close,volume,Note\n2024-01-02,10,11,9,10.5,10.4,1000,x\n2024-01-03,10.5,12,10,11,10.9,1200,y\n';
    const s = parsePriceCsv(csv(text), 'my-prices.csv');
    expect(s.symbol).toBe('MY-PRICES');
    expect(barList(s.bars).map((b) => b.close)).toEqual([10.5, 11]);
  });

  it('reads intraday timestamps with an offset and infers the timeframe', () => {
    const lines = ['Datetime,Open,High,Low,Close,Volume'];
    for (let i = 0; i < 10; i++) {
      const m = 15 + i * 15;
      const t = `2023-01-02 ${String(9 + Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}:00+05:30`;
      lines.push(`${t},100,101,99,100.5,${500 + i}`);
    }
    const s = parsePriceCsv(csv(lines.join('\n')), 'INFY-15m.csv');
    expect(s.timeframe).toBe('15m');
    expect(barList(s.bars)[0]!.timestamp).toBe('2023-01-02T09:15:00+05:30');
    expect(barList(s.bars)[0]!.time).toBe(Date.UTC(2023, 0, 2, 3, 45));
  });

  it('takes the symbol from a symbol column when there is one', () => {
    const s = parsePriceCsv(
      csv('Symbol,Date,Open,High,Low,Close,Volume\nHDFCBANK,2024-01-02,1,2,0.5,1.5,10\n'),
      'x.csv',
    );
    expect(s.symbol).toBe('HDFCBANK');
  });

  it.each([
    [
      'UTF-16 LE with BOM',
      (t: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(t, 'utf16le')]),
    ],
    [
      'UTF-16 BE with BOM',
      (t: string) => Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(t, 'utf16le').swap16()]),
    ],
    ['UTF-16 LE without BOM', (t: string) => Buffer.from(t, 'utf16le')],
    ['UTF-8 with BOM and CRLF', (t: string) => Buffer.from(`\uFEFF${t.replace(/\n/g, '\r\n')}`)],
    ['trailing blank lines', (t: string) => Buffer.from(`${t}\n\n\r\n  \n`)],
  ])('reads %s', (_name, encode) => {
    const text =
      'Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10.5,1000\n2024-01-03,10.5,12,10,11,1200';
    const s = parsePriceCsv(encode(text), 'p.csv');
    expect(barList(s.bars).map((b) => b.close)).toEqual([10.5, 11]);
  });

  it('drops exact duplicate rows', () => {
    const text =
      'Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10.5,1000\n2024-01-02,10,11,9,10.5,1000\n2024-01-03,10.5,12,10,11,1200';
    expect(parsePriceCsv(csv(text), 'p.csv').bars).toHaveLength(2);
  });
});

describe('parsePriceCsv: refusals name the file, row and column', () => {
  const header = 'Date,Open,High,Low,Close,Volume';
  it.each([
    [
      'a non-number',
      `${header}\n2024-01-02,10,11,9,abc,1000`,
      'p.csv, row 2, column "Close": "abc" is not a number',
    ],
    [
      'an impossible date',
      `${header}\n2024-02-30,10,11,9,10,1000`,
      'p.csv, row 2, column "Date": "2024-02-30" is not a real date',
    ],
    [
      'a non-positive price',
      `${header}\n2024-01-02,0,11,9,10,1000`,
      'p.csv, row 2, column "Open": price 0 is not positive',
    ],
    [
      'a negative volume',
      `${header}\n2024-01-02,10,11,9,10,-1`,
      'p.csv, row 2, column "Volume": volume -1 is negative',
    ],
    [
      'high below low',
      `${header}\n2024-01-02,10,8,9,10,1`,
      'p.csv, row 2, column "High": high 8 is below low 9',
    ],
    [
      'high not enclosing close',
      `${header}\n2024-01-02,10,10.5,9,11,1`,
      'p.csv, row 2, column "High": high 10.5 and low 9 do not enclose open 10 and close 11',
    ],
    [
      'a missing column',
      'Date,Open,High,Low,Volume\n2024-01-02,1,2,0.5,10',
      'p.csv, row 1: missing required column close',
    ],
    [
      'conflicting rows',
      `${header}\n2024-01-02,10,11,9,10,1\n2024-01-02,10,11,9,10.5,1`,
      'p.csv, rows 2 and 3: conflicting rows for 2024-01-02',
    ],
    ['JSON', '{"a": 1}', 'p.csv: JSON, not CSV text'],
    ['an empty file', '', 'p.csv: the file is empty'],
  ])('%s', (_name, text, message) => {
    expect(() => parsePriceCsv(csv(text), 'p.csv')).toThrow(message);
  });
});

describe('parsePriceCsv: the bars in columns', () => {
  it('gives each timestamp back as written, normalized, from the parsed time and the zone it was written in', () => {
    const rows = [
      ['1965-03-01 10:00:00.999+01:00', '1965-03-01T10:00:00+01:00', Date.UTC(1965, 2, 1, 9, 0, 0, 999)],
      ['2024-01-02T09:15:00Z', '2024-01-02T09:15:00Z', Date.UTC(2024, 0, 2, 9, 15)],
      ['2024-01-02 09:25:00-04:00', '2024-01-02T09:25:00-04:00', Date.UTC(2024, 0, 2, 13, 25)],
      ['2024-01-03 00:00:00', '2024-01-03', Date.UTC(2024, 0, 3)],
      ['2024-01-02 23:59:59-11:30', '2024-01-02T23:59:59-11:30', Date.UTC(2024, 0, 3, 11, 29, 59)],
      ['2024-01-04 09:30:00+0530', '2024-01-04T09:30:00+05:30', Date.UTC(2024, 0, 4, 4, 0)],
    ] as const;
    const text = `Date,Open,High,Low,Close,Volume\n${rows.map(([t], i) => `${t},${1 + i},${2 + i},0.5,${1 + i},10`).join('\n')}`;
    const { bars } = parsePriceCsv(csv(text), 'X.csv');
    expect(bars).toHaveLength(rows.length);
    expect(Array.from({ length: bars.length }, (_, i) => bars.timestamp(i))).toEqual(rows.map((r) => r[1]));
    expect(Array.from(bars.time)).toEqual(rows.map((r) => r[2]));
    expect(Array.from(bars.close)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('grows past its first allocation and keeps file order out of the result (sorted, duplicates dropped)', () => {
    const lines = ['Date,Open,High,Low,Close,Volume'];
    // 3,000 days, newest first, each written twice: more than the 1,024 bars the columns start with.
    for (let i = 2999; i >= 0; i--) {
      const day = new Date(Date.UTC(2000, 0, 1) + i * 86_400_000).toISOString().slice(0, 10);
      lines.push(`${day},1,${2 + i},0.5,${1 + i},${i}`, `${day},1,${2 + i},0.5,${1 + i},${i}`);
    }
    const { bars } = parsePriceCsv(csv(lines.join('\n')), 'LONG.csv');
    expect(bars).toHaveLength(3000);
    expect(bars.timestamp(0)).toBe('2000-01-01');
    expect(bars.volume[2999]).toBe(2999);
    expect(bars.close.every((c, i) => c === 1 + i)).toBe(true);
  });
});
