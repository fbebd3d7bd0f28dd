import { parse } from 'csv-parse/sync';
import { InputError, quoted } from './errors.ts';

/** How bar i's timestamp was written: its offset from UTC in minutes, or one of these. */
const DATE_ONLY = 0x7fff;
const UTC_Z = -0x7fff;

/**
 * A series' bars in columns, oldest first: one typed array per field. 200,000 bars take about 10 MB that the garbage
 * collector never traces; one object and one timestamp string per bar took ~220 bytes of heap each, and kept V8's
 * young generation growing while they were parsed. `time` is epoch milliseconds; `timestamp(i)` is the ISO 8601
 * text (a date for daily and slower bars, a date-time with its offset otherwise), made when asked for.
 */
export class Bars {
  constructor(
    readonly length: number,
    readonly time: Float64Array,
    readonly open: Float64Array,
    readonly high: Float64Array,
    readonly low: Float64Array,
    readonly close: Float64Array,
    readonly volume: Float64Array,
    /** Per bar: DATE_ONLY, UTC_Z ("Z") or the offset in minutes it was written with. */
    private readonly zone: Int16Array,
  ) {}

  /** Bar i's timestamp as its file wrote it, normalized: `2024-11-12`, `2024-11-12T09:15:00+05:30`, `...Z`. */
  timestamp(i: number): string {
    const zone = this.zone[i]!;
    const offset = zone === DATE_ONLY || zone === UTC_Z ? 0 : zone;
    // The wall-clock time as written (whole seconds: the text never carried the milliseconds).
    const d = new Date(Math.floor((this.time[i]! + offset * 60_000) / 1000) * 1000);
    // join makes one flat string: a template literal keeps a tree of pieces (about 300 bytes of heap per bar kept).
    const date = [pad(d.getUTCFullYear(), 4), '-', pad(d.getUTCMonth() + 1), '-', pad(d.getUTCDate())];
    if (zone === DATE_ONLY) return date.join('');
    const a = Math.abs(offset);
    const zoneText =
      zone === UTC_Z ? ['Z'] : [offset < 0 ? '-' : '+', pad(Math.floor(a / 60)), ':', pad(a % 60)];
    const time = ['T', pad(d.getUTCHours()), ':', pad(d.getUTCMinutes()), ':', pad(d.getUTCSeconds())];
    return [...date, ...time, ...zoneText].join('');
  }
}

export type PriceSeries = { symbol: string; timeframe: string; bars: Bars };

/** What the features are computed from: the price and volume columns. */
export type PriceColumns = Pick<Bars, 'length' | 'open' | 'high' | 'low' | 'close' | 'volume'>;

/** Columns that grow by doubling as a series' rows are parsed, with each bar's row in the file beside it. */
class BarsBuilder {
  length = 0;
  private columns = BarsBuilder.allocate(1024);

  private static allocate(capacity: number) {
    return {
      time: new Float64Array(capacity),
      open: new Float64Array(capacity),
      high: new Float64Array(capacity),
      low: new Float64Array(capacity),
      close: new Float64Array(capacity),
      volume: new Float64Array(capacity),
      zone: new Int16Array(capacity),
      row: new Uint32Array(capacity),
    };
  }

  push(bar: { time: number; zone: number; row: number } & Record<Price, number>): void {
    if (this.length === this.columns.time.length) {
      const grown = BarsBuilder.allocate(this.length * 2);
      for (const [name, column] of Object.entries(this.columns))
        grown[name as keyof typeof grown].set(column as never);
      this.columns = grown;
    }
    const c = this.columns;
    const i = this.length++;
    c.time[i] = bar.time;
    c.open[i] = bar.open;
    c.high[i] = bar.high;
    c.low[i] = bar.low;
    c.close[i] = bar.close;
    c.volume[i] = bar.volume;
    c.zone[i] = bar.zone;
    c.row[i] = bar.row;
  }

  time = (i: number) => this.columns.time[i]!;
  row = (i: number) => this.columns.row[i]!;
  same = (i: number, j: number) => PRICES.every((f) => this.columns[f][i] === this.columns[f][j]);

  /** The bars at `indices`, in that order, as a series' columns. */
  take(indices: ArrayLike<number>): Bars {
    const n = indices.length;
    const c = this.columns;
    const pick = <A extends Float64Array | Int16Array>(from: A, to: A) => {
      for (let k = 0; k < n; k++) to[k] = from[indices[k]!]!;
      return to;
    };
    const f64 = (from: Float64Array) => pick(from, new Float64Array(n));
    return new Bars(
      n,
      f64(c.time),
      f64(c.open),
      f64(c.high),
      f64(c.low),
      f64(c.close),
      f64(c.volume),
      pick(c.zone, new Int16Array(n)),
    );
  }

  /** Bar i as a timestamp, for error messages about rows not yet sorted. */
  timestamp(i: number): string {
    return this.take([i]).timestamp(0);
  }
}

type Price = 'open' | 'high' | 'low' | 'close' | 'volume';
const PRICES: readonly Price[] = ['open', 'high', 'low', 'close', 'volume'];

/** The bars of one series, in file order, each with its row. */
type Group = { bars: BarsBuilder; allDates: boolean; records: number; error?: InputError };

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

/** A header's columns for an error message: the first few, each cut, and how many more there are. */
function listColumns(header: string[]): string {
  const shown = header.slice(0, 20).map((h) => quoted(h));
  if (header.length > shown.length) shown.push(`and ${header.length - shown.length} more columns`);
  return shown.join(', ') || 'nothing';
}

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
): { time: number; zone: number; dateOnly: boolean } | undefined {
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
    throw new InputError(`${where}: ${quoted(raw)} is not a real date`);
  }
  if (!rest || /^00:00(:00(\.0+)?)?$/.test(rest)) return { time: dayTime, zone: DATE_ONLY, dateOnly: true };
  const t = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?\s*(Z|[+-]\d{2}:?\d{2})?$/.exec(rest);
  if (!t) return undefined;
  const [hh, mm, ss] = [Number(t[1]), Number(t[2]), Number(t[3] ?? 0)];
  if (hh > 23 || mm > 59 || ss > 59)
    throw new InputError(`${where}: ${quoted(raw)} is not a real time of day`);
  const ms = t[4] ? Math.round(Number(`0.${t[4]}`) * 1000) : 0;
  // Without an offset the time is taken as UTC.
  const zone = t[5] ?? 'Z';
  const offsetMin =
    zone === 'Z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(-2)));
  const time = dayTime + ((hh * 60 + mm) * 60 + ss) * 1000 + ms - offsetMin * 60_000;
  return { time, zone: zone === 'Z' ? UTC_Z : offsetMin, dateOnly: false };
}

/**
 * `Quote-Equity-RELIANCE-EQ-...` → RELIANCE, `NIFTY 50-12-11-2024-...` → NIFTY50 (NSE's own export names), else the
 * file stem. A stem that is not a symbol as written (`M&M`, `रिलायंस`, `my export`) is refused rather than reduced:
 * two different uploads must never share one model.
 */
export function symbolFromFileName(fileName: string): string {
  const base = fileName.replace(/^.*[/\\]/, '').replace(/\.csv$/i, '');
  const quote = /^Quote-(?:Equity|Index|Derivative)-(.+?)-(?:EQ|BE|BZ|SM|ST)-/i.exec(base);
  const index = /^(.+?)-\d{2}-\d{2}-\d{4}/.exec(base);
  const named = quote?.[1] ?? index?.[1];
  // NSE writes index names with spaces (`NIFTY 50`); those are the one reduction taken.
  return checkedSymbol(
    named?.replace(/ /g, '') ?? base,
    named ?? base,
    fileName.replace(/^.*[/\\]/, ''),
    'name the file after the symbol (e.g. RELIANCE.csv, M_M.csv) or add a Symbol column',
  );
}

/** The longest symbol kept: NSE symbols are at most 20 characters; this leaves room for other exchanges'. */
const MAX_SYMBOL_CHARS = 40;
/** Series an NSE export can mix are a handful (EQ, BE, BZ, ...); more means the column is something else. */
const MAX_SERIES = 50;

/** `candidate` upper-cased when it is a symbol (letters, digits, `_`, `-`), else a refusal that says `how` to fix it. */
function checkedSymbol(candidate: string, shown: string, where: string, how: string): string {
  const symbol = candidate.toUpperCase();
  if (new RegExp(`^[A-Z0-9][A-Z0-9_-]{0,${MAX_SYMBOL_CHARS - 1}}$`).test(symbol)) return symbol;
  throw new InputError(
    `${where}: ${quoted(shown)} is not a symbol (letters A-Z, digits, "_" and "-" only, at most ${MAX_SYMBOL_CHARS} characters); ${how}`,
  );
}

/** The bar spacing as a timeframe name, from the median gap between consecutive bars. */
export function inferTimeframe(time: Float64Array, dateOnly: boolean): string {
  const gaps = new Float64Array(Math.max(0, time.length - 1));
  for (let i = 1; i < time.length; i++) gaps[i - 1] = time[i]! - time[i - 1]!;
  gaps.sort();
  const median = gaps.length ? gaps[Math.floor(gaps.length / 2)]! : 86_400_000;
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
        `${file}, row 1: missing required column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; found ${listColumns(header)}${hint}`,
      );
    }
  };

  let dataRows = 0;
  let symbolCell: { value: string; row: number } | undefined;
  const readBar = (record: string[], row: number, group: Group) => {
    const head = header!;
    const cell = (field: Field) => {
      const value = record[column[field]];
      if (value === undefined) {
        throw new InputError(
          `${file}, row ${row}: ${record.length} columns where the header has ${head.length}; column ${quoted(head[column[field]]!)} is missing`,
        );
      }
      return value;
    };
    const at = (field: Field) => `${file}, row ${row}, column ${quoted(head[column[field]]!)}`;
    const rawDate = cell('date');
    const when = parseTimestamp(rawDate, at('date'));
    if (!when)
      throw new InputError(
        `${at('date')}: ${quoted(rawDate)} is not a date (expected forms like 12-Nov-2024, 2024-11-12, 2024-11-12 09:15:00+05:30)`,
      );
    const num = (field: Field) => {
      const raw = cell(field);
      const value = parseNumber(raw);
      if (value === undefined) {
        throw new InputError(`${at(field)}: ${quoted(raw)} is not a number`);
      }
      if (!Number.isFinite(value))
        throw new InputError(`${at(field)}: ${quoted(raw)} is not a finite number`);
      return value;
    };
    const bar = {
      time: when.time,
      zone: when.zone,
      row,
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
    group.allDates &&= when.dateOnly;
    group.bars.push(bar);
  };

  // Each record is handled as it is parsed and dropped (on_record returns null): the parser never collects them
  // all, so memory holds the bars, not every cell of the file as strings. With a series column each series keeps
  // its own bars and only its first refusal (the rows of series not modelled may be incomplete), so memory grows
  // with the valid bars, as in every other layout, not with the rows.
  const groups = new Map<string, Group>();
  const groupOf = (series: string) => {
    let group = groups.get(series);
    if (!group) {
      if (groups.size >= MAX_SERIES)
        throw new InputError(
          `${file}: more than ${MAX_SERIES} different values in the series column; one file holds one symbol's listings`,
        );
      group = { bars: new BarsBuilder(), allDates: true, records: 0 };
      groups.set(series, group);
    }
    return group;
  };
  try {
    parse(text, {
      relax_column_count: true,
      skip_empty_lines: true,
      max_record_size: 1_000_000,
      on_record: (record: string[], context: { lines: number }) => {
        if (!header) readHeader(record);
        else {
          dataRows++;
          if (record.every((c) => c.trim() === '')) return null;
          const row = context.lines;
          if (column.symbol !== undefined) {
            const value = (record[column.symbol] ?? '').trim();
            if (!symbolCell) symbolCell = { value, row };
            else if (value !== symbolCell.value)
              throw new InputError(
                `${file}, row ${row}, column ${quoted(header[column.symbol]!)}: ${quoted(value)} differs from ${quoted(symbolCell.value)} in row ${symbolCell.row}; one file holds one symbol`,
              );
          }
          if (column.series === undefined) {
            readBar(record, row, groupOf(''));
            return null;
          }
          const group = groupOf((record[column.series] ?? '').trim());
          group.records++;
          if (group.error) return null;
          try {
            readBar(record, row, group);
          } catch (e) {
            if (!(e instanceof InputError)) throw e;
            group.error = e;
          }
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
  const kept = [...groups.values()].sort((a, b) => b.records - a.records)[0];
  if (kept?.error) throw kept.error;
  if (!kept || kept.bars.length === 0) throw new InputError(`${file}: no data rows`);
  const parsed = kept.bars;

  const order = Uint32Array.from({ length: parsed.length }, (_, i) => i).sort(
    (i, j) => parsed.time(i) - parsed.time(j) || parsed.row(i) - parsed.row(j),
  );
  const keep = new Uint32Array(parsed.length);
  let n = 0;
  for (const i of order) {
    const previous = n > 0 ? keep[n - 1]! : undefined;
    if (previous !== undefined && parsed.time(previous) === parsed.time(i)) {
      if (parsed.same(previous, i)) continue; // an exact duplicate row
      throw new InputError(
        `${file}, rows ${parsed.row(previous)} and ${parsed.row(i)}: conflicting rows for ${parsed.timestamp(i)}`,
      );
    }
    keep[n++] = i;
  }
  const bars = parsed.take(keep.subarray(0, n));
  const symbol = symbolCell
    ? checkedSymbol(
        symbolCell.value,
        symbolCell.value,
        `${file}, row ${symbolCell.row}, column ${quoted(header[column.symbol]!)}`,
        'write the symbol itself there, e.g. RELIANCE or M_M',
      )
    : symbolFromFileName(file);
  return { symbol, timeframe: inferTimeframe(bars.time, kept.allDates), bars };
}
