// Structured logs that Cloud Logging understands: one JSON object per line with `severity` and `message`.
// Locally (a terminal) the same records print as short readable lines.

import type { LogFields, Logger, Severity } from '../shared/ports.ts';
import { readSettings } from '../shared/settings.ts';

export function createLogger(
  base: LogFields = {},
  options: { json?: boolean; write?: (line: string) => void; quiet?: boolean } = {},
): Logger {
  const json = options.json ?? readSettings().TRENDCAST_LOG_FORMAT === 'json';
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const emit = (severity: Severity, message: string, fields?: LogFields) => {
    if (options.quiet && severity === 'DEBUG') return;
    const record = { severity, message, ...base, ...fields, time: new Date().toISOString() };
    if (json) write(JSON.stringify(record));
    else {
      const ids = [record.runId, record.trial].filter(Boolean).join('/');
      write(`${severity.padEnd(7)} ${ids ? `[${ids}] ` : ''}${message}`);
    }
  };
  return {
    debug: (m, f) => emit('DEBUG', m, f),
    info: (m, f) => emit('INFO', m, f),
    warn: (m, f) => emit('WARNING', m, f),
    error: (m, f) => emit('ERROR', m, f),
    child: (fields) => createLogger({ ...base, ...fields }, { ...options, json }),
  };
}

const METHODS = { DEBUG: 'debug', INFO: 'info', WARNING: 'warn', ERROR: 'error' } as const;

/**
 * Passes one line a child process (a trainer) wrote to stderr on to `log` as one event: its own JSON record keeps its
 * severity and fields (never wrapped, escaped, inside another message); any other line (a library's warning) is a
 * WARNING of its own.
 */
export function relayLine(log: Logger, line: string): void {
  if (!line.trim()) return;
  let record: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      record = parsed as Record<string, unknown>;
  } catch {
    // not a structured log line
  }
  const method = record && METHODS[record.severity as Severity];
  if (!record || !method || typeof record.message !== 'string') {
    log.warn(line.trim(), { stream: 'stderr' });
    return;
  }
  const { severity: _severity, message, time: _time, ...fields } = record;
  log[method](message, fields as LogFields);
}
