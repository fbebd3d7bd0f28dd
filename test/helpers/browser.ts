import { existsSync } from 'node:fs';
import { readSettings } from '../../shared/settings.ts';

/** Debian's Chromium, which playwright-core drives (it downloads no browser of its own). */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * For browser test files: why they are skipped here, printed as one line naming the command that installs what is
 * missing; with TRENDCAST_REQUIRE_BROWSER=1 (CI) a missing browser is an error instead of a skip.
 */
export function browserSkipReason(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const missing = `${CHROMIUM} is missing (install it: sudo apt-get install -y chromium)`;
  if (readSettings().TRENDCAST_REQUIRE_BROWSER)
    throw new Error(`TRENDCAST_REQUIRE_BROWSER=1 but the browser tests cannot run: ${missing}`);
  console.warn(`skipping the browser tests: ${missing}`);
  return missing;
}
