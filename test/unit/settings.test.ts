import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readSettings, Settings, settingsTable } from '../../shared/settings.ts';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('settings', () => {
  it("the README's settings table is the one generated from the schema (npm run docs:settings)", () => {
    const section = /<!-- settings:start -->\n([\s\S]*?)\n<!-- settings:end -->/.exec(README);
    expect(
      section,
      'README.md has no <!-- settings:start --> ... <!-- settings:end --> section',
    ).not.toBeNull();
    expect(section![1]).toBe(settingsTable());
  });

  it('lists every variable of the schema, each with a meaning', () => {
    for (const [name, schema] of Object.entries(Settings.shape)) {
      expect(settingsTable()).toContain(`| \`${name}\` |`);
      expect(schema.description, name).toBeTruthy();
    }
  });

  it('reads flags and enums, and refuses a bad value naming the variable', () => {
    expect(readSettings({ TRENDCAST_DEBUG: '1', TRENDCAST_LOG_FORMAT: 'text' })).toMatchObject({
      TRENDCAST_DEBUG: true,
      TRENDCAST_LOG_FORMAT: 'text',
    });
    expect(readSettings({}).TRENDCAST_REQUIRE_EMULATORS).toBe(false);
    expect(() => readSettings({ TRENDCAST_TFJS_BACKEND: 'gpu' })).toThrow(/TRENDCAST_TFJS_BACKEND/);
    expect(() => readSettings({ TRENDCAST_MAX_JOBS: 'many' })).toThrow(/TRENDCAST_MAX_JOBS/);
  });
});
