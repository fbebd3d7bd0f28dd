import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeProblem, supportProblems, WARN_DAYS } from '../../../cdktf/check-support.ts';
import { SUPPORT_TABLE, type SupportedPart } from '../../../cdktf/runtimes.ts';
import { resources, synthStack } from './synth.ts';

const ROOT = join(import.meta.dirname, '../../..');

/** The images a Dockerfile builds FROM, with `${ARG}` resolved to the ARG's default; earlier stages are skipped. */
function baseImages(dockerfile: string): string[] {
  const args = new Map<string, string>();
  const stages = new Set<string>();
  const images: string[] = [];
  for (const line of dockerfile.split('\n')) {
    const arg = line.match(/^ARG (\w+)=(\S+)$/);
    if (arg) args.set(arg[1]!, arg[2]!);
    const from = line.match(/^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i);
    if (!from) continue;
    const image = from[1]!.replace(
      /\$\{(\w+)\}|\$(\w+)/g,
      (_, a, b) => args.get(a ?? b) ?? `<unset ${a ?? b}>`,
    );
    if (!stages.has(image)) images.push(image.replace(/@sha256:[0-9a-f]{64}$/, ''));
    if (from[2]) stages.add(from[2]);
  }
  return images;
}

describe('the support table (cdktf/runtimes.ts)', () => {
  const names = (kind: SupportedPart['kind']) =>
    SUPPORT_TABLE.filter((p) => p.kind === kind).map((p) => p.name);

  it('covers every runtime of the synthesized stack', () => {
    const runtimes = new Set(
      resources(synthStack(), 'google_cloudfunctions2_function').map((f) => f.build_config.runtime as string),
    );
    expect(runtimes.size).toBeGreaterThan(0);
    for (const runtime of runtimes) expect(names('functions-runtime'), runtime).toContain(runtime);
  });

  it('covers every image a Dockerfile under trainer/ builds from', () => {
    const dockerfiles = readdirSync(join(ROOT, 'trainer')).filter((f) => /^Dockerfile/.test(f));
    expect(dockerfiles.length).toBeGreaterThanOrEqual(2);
    for (const file of dockerfiles) {
      const images = baseImages(readFileSync(join(ROOT, 'trainer', file), 'utf8'));
      expect(images.length, file).toBeGreaterThan(0);
      for (const image of images) expect(names('image'), `${file}: FROM ${image}`).toContain(image);
    }
  });

  it('names a date and the page it comes from for every part, and no part within a year of its end today', () => {
    for (const part of SUPPORT_TABLE) {
      expect(part.endOfSupport).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(part.source).toMatch(/^https:\/\//);
    }
    const inAYear = new Date(Date.now() + 365 * 86_400_000).toISOString().slice(0, 10);
    for (const part of SUPPORT_TABLE.filter((p) => p.kind === 'functions-runtime'))
      expect(part.endOfSupport > inAYear, part.name).toBe(true);
  });

  it('resolves ARG defaults and skips build stages', () => {
    expect(
      baseImages(
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a Dockerfile's ARG syntax
        'ARG BASE=ubuntu:24.04\nARG N=node:24-trixie-slim\nFROM ${N} AS node\nFROM $BASE\nFROM node AS x\n',
      ),
    ).toEqual(['node:24-trixie-slim', 'ubuntu:24.04']);
  });
});

describe('the deploy check (cdktf/check-support.ts)', () => {
  const part = (endOfSupport: string): SupportedPart => ({
    kind: 'functions-runtime',
    name: 'nodejs99',
    endOfSupport,
    source: 'https://example.test/schedule',
  });

  it('is silent more than 180 days ahead, warns within them, refuses past the date', () => {
    expect(supportProblems([part('2027-12-31')], '2026-12-05')).toEqual([]);
    const [warning] = supportProblems([part('2027-06-02')], '2026-12-05');
    expect(warning).toMatchObject({ level: 'warning', daysLeft: WARN_DAYS - 1 });
    expect(describeProblem(warning!)).toBe(
      'warning: runtime nodejs99 ends its support on 2027-06-02, in 179 days (https://example.test/schedule)',
    );
    expect(supportProblems([part('2026-12-05')], '2026-12-05')).toMatchObject([
      { level: 'warning', daysLeft: 0 },
    ]);
    const [error] = supportProblems([part('2026-10-30')], '2026-12-05');
    expect(error).toMatchObject({ level: 'error', daysLeft: -36 });
    expect(describeProblem(error!)).toMatch(
      /^error: runtime nodejs99 reached its end of support on 2026-10-30 \(https:\/\/example\.test\/schedule\)/,
    );
  });

  it('refused the nodejs20 runtime this project deployed until 2026-12-05', () => {
    const nodejs20 = { ...part('2026-10-30'), name: 'nodejs20' };
    expect(supportProblems([nodejs20], '2026-12-05')[0]?.level).toBe('error');
  });
});
