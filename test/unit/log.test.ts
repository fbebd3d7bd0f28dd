import { describe, expect, it } from 'vitest';
import { createLogger, relayLine } from '../../adapters/log.ts';

describe('logs', () => {
  it("relays a trainer's JSON record as one event with its own fields, not as an escaped message", () => {
    const lines: string[] = [];
    const log = createLogger({ runId: 'run-1' }, { json: true, write: (l) => lines.push(l) });
    const trainer = JSON.stringify({
      severity: 'INFO',
      message: 'trained',
      trial: 'config_1',
      f1: 0.61,
      time: '2026-01-01T00:00:00Z',
    });
    relayLine(log, trainer);
    expect(lines).toHaveLength(1);
    const record = JSON.parse(lines[0]!);
    expect(record).toMatchObject({
      severity: 'INFO',
      message: 'trained',
      runId: 'run-1',
      trial: 'config_1',
      f1: 0.61,
    });
    expect(lines[0]).not.toContain('\\"');
  });

  it('relays any other line as a WARNING of its own, and skips blank ones', () => {
    const lines: string[] = [];
    const log = createLogger({}, { json: true, write: (l) => lines.push(l) });
    relayLine(log, 'Orthogonal initializer is being called on a matrix with more than 2000 elements');
    relayLine(log, '   ');
    relayLine(log, '{"not":"a log record"}');
    expect(lines.map((l) => JSON.parse(l).severity)).toEqual(['WARNING', 'WARNING']);
    expect(JSON.parse(lines[0]!).message).toMatch(/^Orthogonal initializer/);
  });

  it('prints one short line per event in text mode', () => {
    const lines: string[] = [];
    const log = createLogger({}, { json: false, write: (l) => lines.push(l) });
    relayLine(
      log,
      JSON.stringify({ severity: 'WARNING', message: 'slow epoch', runId: 'run-1', trial: 'c1' }),
    );
    expect(lines).toEqual(['WARNING [run-1/c1] slow epoch']);
  });
});
