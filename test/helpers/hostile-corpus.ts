// The hostile-input corpus: malformed or hostile uploads that must each be refused with a clear error, and valid
// variants of the reference CSV that must each be accepted. Built in code so no binary blobs live in the repo.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { REFERENCE_CSV } from './cli.ts';

export type CorpusCase = { name: string; bytes: Buffer; valid: boolean; error?: RegExp };

const reference = readFileSync(REFERENCE_CSV);
const referenceText = reference.toString('utf8').replace(/^\uFEFF/, '');
const [header, ...rows] = referenceText.split('\n').filter((l) => l.trim() !== '');

/** A plain OHLCV file of `n` daily bars from a price path. */
function ohlcv(n: number, price: (i: number) => number, extra: (i: number) => string = () => ''): string {
  const lines = ['Date,Open,High,Low,Close,Volume'];
  const start = Date.UTC(2020, 0, 1);
  for (let i = 0; i < n; i++) {
    const p = price(i);
    const d = new Date(start + i * 86_400_000).toISOString().slice(0, 10);
    lines.push(`${d},${p},${p * 1.01},${p * 0.99},${p},${1000 + i}${extra(i)}`);
  }
  return `${lines.join('\n')}\n`;
}
/** `csv` with a Symbol column holding `symbol(i)` on data row i. */
const withSymbol = (csv: string, symbol: (i: number) => string) =>
  csv
    .split('\n')
    .map((line, i) => (line === '' ? line : `${line},${i === 0 ? 'Symbol' : symbol(i - 1)}`))
    .join('\n');
const wave = (i: number) => 100 + 10 * Math.sin(i / 3) + i * 0.01;
const replaceRow = (i: number, from: RegExp, to: string) =>
  [header, ...rows.map((r, j) => (j === i ? r.replace(from, to) : r))].join('\n');

const bad = (name: string, content: string | Buffer, error?: RegExp): CorpusCase => ({
  name,
  bytes: Buffer.isBuffer(content) ? content : Buffer.from(content),
  valid: false,
  ...(error ? { error } : {}),
});
const good = (name: string, content: string | Buffer): CorpusCase => ({
  name,
  bytes: Buffer.isBuffer(content) ? content : Buffer.from(content),
  valid: true,
});

export const HOSTILE: CorpusCase[] = [
  bad('empty.csv', ''),
  bad('header-only.csv', 'Date,Open,High,Low,Close,Volume\n'),
  bad('blank-lines-only.csv', '\n\n\r\n\n'),
  bad('binary.csv', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))),
  bad('gzipped.csv', gzipSync(reference)),
  bad('zip-archive.csv', Buffer.concat([Buffer.from('PK\u0003\u0004'), Buffer.alloc(200, 1)])),
  bad('json.csv', JSON.stringify({ date: '2024-01-01', close: 10 })),
  bad('html.csv', '<!doctype html><html><body><table><tr><td>Date</td></tr></table></body></html>'),
  bad('unterminated-quote.csv', `${header}\n"11-Nov-2025,"EQ","1,497.00"\n${rows.slice(1).join('\n')}`),
  bad('giant-field.csv', `${header}\n"${'9'.repeat(2_000_000)}",${rows[0]!.split(',').slice(1).join(',')}\n`),
  bad('non-numeric.csv', replaceRow(10, /"1,4\d\d\.\d\d"/, '"abc"'), /row 12/),
  bad('infinite.csv', ohlcv(120, wave).replace(/\n(2020-02-01),[^,]+,/, '\n$1,Infinity,'), /row 33/),
  bad('nan.csv', ohlcv(120, wave).replace(/\n(2020-02-01),[^,]+,/, '\n$1,NaN,'), /row 33/),
  bad('huge-number.csv', ohlcv(120, wave).replace(/\n(2020-02-01),[^,]+,/, `\n$1,1e400,`), /row 33/),
  bad('impossible-date.csv', ohlcv(120, wave).replace('2020-02-01', '2020-02-30'), /row 33/),
  bad('unparseable-date.csv', ohlcv(120, wave).replace('2020-02-01', 'yesterday'), /row 33/),
  bad('conflicting-duplicate-date.csv', ohlcv(120, wave).replace('2020-02-01', '2020-01-31'), /2020-01-31/),
  bad('negative-volume.csv', ohlcv(120, wave).replace(/(\n2020-02-01,[^\n]*,)1031\n/, '$1-5\n'), /row 33/),
  bad('zero-price.csv', ohlcv(120, wave).replace(/\n2020-02-01,[^,]+,/, '\n2020-02-01,0,'), /row 33/),
  bad(
    'high-below-low.csv',
    replaceRow(5, /"EQ","([^"]+)","[^"]+","([^"]+)"/, '"EQ","$1","1.00","$2"'),
    /row 7/,
  ),
  bad('missing-close-column.csv', 'Date,Open,High,Low,Volume\n2024-01-01,1,2,0.5,10\n', /[Cc]lose/),
  bad('ragged-row.csv', ohlcv(120, wave).replace(/\n2020-02-01,[^\n]*/, '\n2020-02-01,1,2'), /row 33/),
  bad(
    'constant-prices.csv',
    ohlcv(200, () => 50),
  ),
  bad(
    'one-class-target.csv',
    ohlcv(200, (i) => 100 + i),
  ),
  bad('too-few-rows.csv', ohlcv(70, wave)),
  bad('semicolon-separated.csv', ohlcv(120, wave).replaceAll(',', ';')),
  // An 800 KB header of 85,000 columns once made a 2 MB error line, run document and report.
  bad(
    'huge-header.csv',
    `${Array.from({ length: 85_000 }, (_, i) => `Column${i}`).join(',')}\n1,2\n`,
    /more columns/,
  ),
  bad('huge-value.csv', ohlcv(120, wave).replace('2020-02-01', 'x'.repeat(500_000)), /500000 characters/),
  // 12 MB of rows with only a series under a `Series` header once ran ingest's heap out of memory.
  bad(
    'series-blank-rows.csv',
    `Date,Series,Open,High,Low,Close,Volume\n${',EQ,,,,,\n'.repeat(1_390_000)}`,
    /row 2/,
  ),
  bad('M&M.csv', ohlcv(120, wave), /"M&M" is not a symbol.*name the file/),
  bad('रिलायंस.csv', ohlcv(120, wave), /not a symbol.*name the file/),
  bad(
    'symbol-disagrees.csv',
    withSymbol(ohlcv(120, wave), (i) => (i === 50 ? 'INFY' : 'TCS')),
    /row 52.*"INFY" differs from "TCS"/,
  ),
  bad(
    'symbol-not-a-symbol.csv',
    withSymbol(ohlcv(120, wave), () => 'M&M'),
    /column "Symbol": "M&M" is not a symbol/,
  ),
  bad(
    'symbol-blank.csv',
    withSymbol(ohlcv(120, wave), () => ''),
    /"" is not a symbol/,
  ),
  bad(
    'utf16-garbage.csv',
    Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('\u0000\u0001\u0002'.repeat(100))]),
  ),
];

const crlf = referenceText.replace(/\n/g, '\r\n');
const shuffled = [
  header,
  ...rows
    .map((r, i) => ({ r, k: (i * 7919) % rows.length }))
    .sort((a, b) => a.k - b.k)
    .map((x) => x.r),
].join('\n');
const extraColumns = ohlcv(150, wave, (i) => `,note ${i},x`).replace('Volume\n', 'Volume,Comment,Flag\n');
const blankUnused = [
  header,
  ...rows.map((r) => r.replace(/^("[^"]+","EQ",(?:"[^"]*",){4})"[^"]*"/, '$1""')),
].join('\n');

export const VALID: CorpusCase[] = [
  good('Quote-Equity-RELIANCE-EQ-crlf.csv', crlf),
  good(
    'Quote-Equity-RELIANCE-EQ-utf16.csv',
    Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`\uFEFF${referenceText}`.slice(1), 'utf16le')]),
  ),
  good('Quote-Equity-RELIANCE-EQ-shuffled.csv', shuffled),
  good('extra-columns.csv', extraColumns),
  good('Quote-Equity-RELIANCE-EQ-blank-ltp.csv', blankUnused),
  good('Quote-Equity-RELIANCE-EQ-trailing-blank-lines.csv', `${referenceText}\n\n\n\r\n`),
  good('plain-ohlcv.csv', ohlcv(150, wave)),
  good(
    'symbol-column.csv',
    withSymbol(ohlcv(150, wave), () => 'TCS'),
  ),
];
