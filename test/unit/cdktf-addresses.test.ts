import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resourceAddresses, synthStack } from './cdktf/synth.ts';

const fixture = JSON.parse(readFileSync(join(import.meta.dirname, 'cdktf/addresses.json'), 'utf8')) as {
  before: string[];
  added: Record<string, string>;
  removed: Record<string, string>;
};

describe('the stack keeps every Terraform address a deployed project has in its state', () => {
  it('synthesizes exactly the addresses of the deployed stack plus the listed additions', () => {
    const expected = [...fixture.before, ...Object.keys(fixture.added)]
      .filter((address) => !(address in fixture.removed))
      .sort();
    expect(resourceAddresses(synthStack())).toEqual(expected);
  });

  it('lists each addition once, with its reason, and never re-adds a deployed address', () => {
    for (const [address, reason] of Object.entries(fixture.added)) {
      expect(fixture.before, address).not.toContain(address);
      expect(reason.length, address).toBeGreaterThan(10);
    }
    expect(new Set(fixture.before).size).toBe(fixture.before.length);
    for (const [address, reason] of Object.entries(fixture.removed)) {
      expect(fixture.before, address).toContain(address);
      expect(reason.length, address).toBeGreaterThan(10);
    }
  });
});
