import { parse } from 'csv-parse/sync';
import { InputError } from './errors.ts';

/** One price bar. `timestamp` is ISO 8601: a date for daily and slower bars, a date-time with its offset otherwise. */
export type Bar = {
  timestamp: string;
  /** Epoch milliseconds, for ordering and spacing. */
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
};

export type PriceSeries = { symbol: string; timeframe: string; bars: Bar[] };

type Field = 'date' | 'open' | 'high' | 'low' | 'close' | 'volume' | 'symbol' | 'series';

/**
 * Header names each field is known by, after normalization (trimmed, lower case, inner spaces collapsed):
 * NSE equity quotes (`Date `, `OPEN `, `close `, `VOLUME `), NSE's upper-case layout (`DATE`, `CLOSE`),
 * NSE index exports (`Shares Traded`) and plain OHLCV exports (`Date,Open,High,Low,Close,Volume`).
 */
const HEADERS: Record<Field, string[]> = {
  date: ['date', 'datetime', 'timestamp', 'time', 'date time'],
  open: ['open', 'open price'],
  high: ['high', 'high price'],
  low: ['low', 'low price'],
  close: ['close', 'close price', 'closing price'],
  volume: ['volume', 'shares traded', 'total traded quantity', 'vol', 'qty'],
  symbol: ['symbol', 'ticker'],
  series: ['series'],
};
const REQUIRED: Field[] = ['date', 'open', 'high', 'low', 'close', 'volume'];
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

const normalizeHeader = (h: string) =>
  h
    .replace(/^\uFEFF/, '')
    .trim()
    .toLowerCase()
    .replace(/\s+/g, ' ');

/** Decodes UTF-8 (with or without BOM) or UTF-16 (LE/BE, with or without BOM); refuses what is not text. */
export function decodeCsvText(bytes: Uint8Array, file: string): string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length === 0) throw new InputError(`${file}: the file is empty`);
  if (b[0] === 0x1f && b[1] === 0x8b)
    throw new InputError(`${file}: a gzip-compressed file, not CSV text; decompress it first`);
  if (b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04) {
    throw new InputError(`${file}: a ZIP archive (an .xlsx workbook?), not CSV text; export it as CSV`);
  }
  let text: string;
  const head = b.subarray(0, Math.min(b.length, 2000));
  const nulsAt = (parity: number) => head.filter((v, i) => i % 2 === parity && v === 0).length;
  if (b[0] === 0xff && b[1] === 0xfe) text = b.subarray(2).toString('utf16le');
  else if (b[0] === 0xfe && b[1] === 0xff) text = Buffer.from(b.subarray(2)).swap16().toString('utf16le');
  else if (head.length >= 4 && nulsAt(1) > head.length / 4 && nulsAt(0) === 0) text = b.toString('utf16le');
  else if (head.length >= 4 && nulsAt(0) > head.length / 4 && nulsAt(1) === 0) {
    text = Buffer.from(b.subarray(0, b.length - (b.length % 2)))
      .swap16()
      .toString('utf16le');
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(b);
    } catch {
      throw new InputError(`${file}: not text (neither UTF-8 nor UTF-16); is it a binary file?`);
    }
  }
  text = text.replace(/^\uFEFF/, '');
  // Control characters other than tab and line breaks mean a binary file, or a wrongly decoded one.
  const controlAt = findControlCharacter(text);
  if (controlAt >= 0) {
    const code = text.charCodeAt(controlAt).toString(16).padStart(4, '0');
    const line = text.slice(0, controlAt).split('\n').length;
    throw new InputError(`${file}, row ${line}: binary content (control character U+${code}), not CSV text`);
  }
  const first = text.trimStart()[0];
  if (first === '{' || first === '[') throw new InputError(`${file}: JSON, not CSV text`);
  if (first === '<') throw new InputError(`${file}: HTML or XML, not CSV text`);
  if (text.trim() === '') throw new InputError(`${file}: the file has no rows`);
  return text;
}

/** Index of the first control character other than tab, CR and LF, or -1. */
function findControlCharacter(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 32 && c !== 9 && c !== 10 && c !== 13) return i;
  }
  return -1;
}

/** Parses a number as exports write it: `1,497.00`, Indian grouping `1,67,72,678`, plain `1497`, `1.2e3`. */
function parseNumber(raw: string): number | undefined {
  const s = raw.trim();
  if (/^[+-]?\d{1,3}(,\d{2,3})+(\.\d+)?$/.test(s)) return Number(s.replace(/,/g, ''));
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return Number(s);
  return undefined;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** Parses the date forms exports use; returns undefined for text that is not a date, throws for an impossible one. */
function parseTimestamp(
  raw: string,
  where: string,
): { timestamp: string; time: number; dateOnly: boolean } | undefined {
  const s = raw.trim();
  const named = /^(\d{1,2})[- ]([A-Za-z]{3})[- ](\d{4})$/.exec(s);
  const iso = /^(\d{4})[-/](\d{2})[-/](\d{2})(?:[T ](.*))?$/.exec(s);
  let y: number;
  let mo: number;
  let d: number;
  let rest = '';
  if (named) {
    const month = MONTHS.indexOf(named[2]!.toLowerCase());
    if (month < 0) return undefined;
    [y, mo, d] = [Number(named[3]), month + 1, Number(named[1])];
  } else if (iso) {
    [y, mo, d] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
    rest = iso[4] ?? '';
  } else return undefined;
  const dayTime = Date.UTC(y, mo - 1, d);
  const check = new Date(dayTime);
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d) {
    throw new InputError(`${where}: "${raw}" is not a real date`);
  }
  const date = `${y}-${pad(mo)}-${pad(d)}`;
  if (!rest || /^00:00(:00(\.0+)?)?$/.test(rest)) return { timestamp: date, time: dayTime, dateOnly: true };
  const t = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?\s*(Z|[+-]\d{2}:?\d{2})?$/.exec(rest);
  if (!t) return undefined;
  const [hh, mm, ss] = [Number(t[1]), Number(t[2]), Number(t[3] ?? 0)];
  if (hh > 23 || mm > 59 || ss > 59) throw new InputError(`${where}: "${raw}" is not a real time of day`);
  const ms = t[4] ? Math.round(Number(`0.${t[4]}`) * 1000) : 0;
  // Without an offset the time is taken as UTC.
  const zone = t[5] ?? 'Z';
  const offsetMin =
    zone === 'Z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(-2)));
  const time = dayTime + ((hh * 60 + mm) * 60 + ss) * 1000 + ms - offsetMin * 60_000;
  const offsetText = zone === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  // join makes one flat string: a template literal would keep a tree of pieces per bar (about 300 bytes of heap).
  const timestamp = [date, 'T', pad(hh), ':', pad(mm), ':', pad(ss), offsetText].join('');
  return { timestamp, time, dateOnly: false };
}

/** `Quote-Equity-RELIANCE-EQ-...` → RELIANCE, `NIFTY 50-12-11-2024-...` → NIFTY50, else the file stem. */
export function symbolFromFileName(fileName: string): string {
  const base = fileName.replace(/^.*[/\\]/, '').replace(/\.csv$/i, '');
  const quote = /^Quote-(?:Equity|Index|Derivative)-(.+?)-(?:EQ|BE|BZ|SM|ST)-/i.exec(base);
  const index = /^(.+?)-\d{2}-\d{2}-\d{4}/.exec(base);
  return sanitizeSymbol(quote?.[1] ?? index?.[1] ?? base);
}

const sanitizeSymbol = (s: string) =>
  s
    .toUpperCase()
    .replace(/[^A-Z0-9_-]/g, '')
    .slice(0, 40) || 'UNKNOWN';

/** The bar spacing as a timeframe name, from the median gap between consecutive bars. */
export function inferTimeframe(bars: Bar[], dateOnly: boolean): string {
  const gaps = bars
    .slice(1)
    .map((b, i) => b.time - bars[i]!.time)
    .sort((a, b) => a - b);
  const median = gaps[Math.floor(gaps.length / 2)] ?? 86_400_000;
  const minutes = Math.round(median / 60_000);
  if (dateOnly || minutes >= 1440) {
    const days = minutes / 1440;
    if (days >= 25) return '1mo';
    if (days >= 6) return '1w';
    return '1d';
  }
  return minutes % 60 === 0 ? `${minutes / 60}h` : `${Math.max(1, minutes)}m`;
}

/**
 * Reads a price CSV in any of the layouts trendcast knows, detecting the layout by its header, and returns its bars
 * in ascending time order with exact duplicate rows dropped. Every refusal names the file, and the row and column
 * where there is one (rows are line numbers in the file; the header is row 1).
 */
export function parsePriceCsv(bytes: Uint8Array, fileName: string): PriceSeries {
  const file = fileName.replace(/^.*[/\\]/, '');
  const text = decodeCsvText(bytes, file);
  let header: string[] | undefined;
  const column = {} as Record<Field, number>;
  /** The header: which column holds each field; refuses a file without the required ones. */
  const readHeader = (record: string[]) => {
    header = record;
    const names = header.map(normalizeHeader);
    for (const field of Object.keys(HEADERS) as Field[]) {
      const at = names.findIndex((n) => HEADERS[field].includes(n));
      if (at >= 0) column[field] = at;
    }
    const missing = REQUIRED.filter((f) => column[f] === undefined);
    if (missing.length) {
      const hint =
        header.length === 1 && /[;\t|]/.test(header[0] ?? '')
          ? ' (is it separated by semicolons or tabs? trendcast reads comma-separated files)'
          : '';
      throw new InputError(
        `${file}, row 1: missing required column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; found ${header.map((h) => `"${h}"`).join(', ') || 'nothing'}${hint}`,
      );
    }
  };

  // The bars as they will be returned, and each one's row in the file beside it (not in it): no copy is made.
  const parsed: Bar[] = [];
  const rowOf: number[] = [];
  let allDates = true;
  let dataRows = 0;
  let symbolCell = '';
  const readBar = (record: string[], row: number) => {
    const head = header!;
    const cell = (field: Field) => {
      const value = record[column[field]];
      if (value === undefined) {
        throw new InputError(
          `${file}, row ${row}: ${record.length} columns where the header has ${head.length}; column "${head[column[field]]}" is missing`,
        );
      }
      return value;
    };
    const at = (field: Field) => `${file}, row ${row}, column "${head[column[field]]}"`;
    const rawDate = cell('date');
    const when = parseTimestamp(rawDate, at('date'));
    if (!when)
      throw new InputError(
        `${at('date')}: "${rawDate}" is not a date (expected forms like 12-Nov-2024, 2024-11-12, 2024-11-12 09:15:00+05:30)`,
      );
    allDates &&= when.dateOnly;
    const num = (field: Field) => {
      const raw = cell(field);
      const value = parseNumber(raw);
      if (value === undefined) {
        throw new InputError(
          `${at(field)}: "${raw.length > 40 ? `${raw.slice(0, 40)}...` : raw}" is not a number`,
        );
      }
      if (!Number.isFinite(value))
        throw new InputError(`${at(field)}: "${raw.slice(0, 40)}" is not a finite number`);
      return value;
    };
    const bar: Bar = {
      timestamp: when.timestamp,
      time: when.time,
      open: num('open'),
      high: num('high'),
      low: num('low'),
      close: num('close'),
      volume: num('volume'),
    };
    for (const f of ['open', 'high', 'low', 'close'] as const) {
      if (!(bar[f] > 0)) throw new InputError(`${at(f)}: price ${bar[f]} is not positive`);
    }
    if (bar.volume < 0) throw new InputError(`${at('volume')}: volume ${bar.volume} is negative`);
    if (bar.high < bar.low) throw new InputError(`${at('high')}: high ${bar.high} is below low ${bar.low}`);
    if (bar.high < Math.max(bar.open, bar.close) || bar.low > Math.min(bar.open, bar.close)) {
      throw new InputError(
        `${at('high')}: high ${bar.high} and low ${bar.low} do not enclose open ${bar.open} and close ${bar.close}`,
      );
    }
    parsed.push(bar);
    rowOf.push(row);
  };

  // Each record is handled as it is parsed and dropped (on_record returns null): the parser never collects them
  // all, so memory holds the bars, not every cell of the file as strings. Files with a series column are kept
  // whole until the most frequent series is known (NSE exports: small).
  const withSeries: Array<{ record: string[]; row: number }> = [];
  try {
    parse(text, {
      relax_column_count: true,
      skip_empty_lines: true,
      max_record_size: 1_000_000,
      on_record: (record: string[], context: { lines: number }) => {
        if (!header) readHeader(record);
        else {
          dataRows++;
          if (dataRows === 1 && column.symbol !== undefined)
            symbolCell = (record[column.symbol] ?? '').trim();
          if (record.every((c) => c.trim() === '')) return null;
          if (column.series !== undefined) withSeries.push({ record, row: context.lines });
          else readBar(record, context.lines);
        }
        return null;
      },
    });
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${file}: not valid CSV: ${(e as Error).message.replace(/\s+/g, ' ')}`);
  }
  if (!header)
    throw new InputError(`${file}, row 1: missing required columns ${REQUIRED.join(', ')}; found nothing`);
  if (dataRows === 0) throw new InputError(`${file}: a header and no data rows`);

  // NSE exports can mix series (EQ, BE, ...) for one symbol; the most frequent one is the listing to model.
  if (column.series !== undefined) {
    const counts = new Map<string, number>();
    for (const { record } of withSeries) {
      const s = (record[column.series] ?? '').trim();
      counts.set(s, (counts.get(s) ?? 0) + 1);
    }
    const keepSeries = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
    for (const { record, row } of withSeries)
      if ((record[column.series] ?? '').trim() === keepSeries) readBar(record, row);
  }
  if (parsed.length === 0) throw new InputError(`${file}: no data rows`);

  const order = Uint32Array.from(parsed.keys()).sort(
    (i, j) => parsed[i]!.time - parsed[j]!.time || rowOf[i]! - rowOf[j]!,
  );
  const bars: Bar[] = [];
  let previous: number | undefined;
  for (const i of order) {
    const bar = parsed[i]!;
    if (previous !== undefined && parsed[previous]!.time === bar.time) {
      const same = (['open', 'high', 'low', 'close', 'volume'] as const).every(
        (f) => parsed[previous!]![f] === bar[f],
      );
      if (same) continue; // an exact duplicate row
      throw new InputError(
        `${file}, rows ${rowOf[previous]} and ${rowOf[i]}: conflicting rows for ${bar.timestamp}`,
      );
    }
    bars.push(bar);
    previous = i;
  }
  const symbol = symbolCell ? sanitizeSymbol(symbolCell) : symbolFromFileName(file);
  return { symbol, timeframe: inferTimeframe(bars, allDates), bars };
}
