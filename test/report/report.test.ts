/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDocumentStore } from '../../adapters/local/document-store.ts';
import { ReportPredictions } from '../../report/inputs.ts';
import { FAILED_SECTIONS, SECTIONS } from '../../report/render.ts';
import { DEFAULT_GRID } from '../../shared/config.ts';
import type { RunDoc, TrialDoc } from '../../shared/documents.ts';
import { readRuns, readTrials } from '../../shared/records.ts';
import { browserSkipReason, CHROMIUM } from '../helpers/browser.ts';
import { REFERENCE_CSV, trendcast } from '../helpers/cli.ts';
import { CONTINUATION_NAME, continuationCsv } from '../helpers/continuation.ts';

// Real reports of real embedded runs (the reference CSV, two epochs per trial; and a refused CSV), opened in Debian's
// Chromium with every request routed: only the report itself may load.

const skip = browserSkipReason();
const OUTPUT = fileURLToPath(new URL('../../test-output/report/', import.meta.url));
/** Where the page is served from inside the browser; the route handler answers it, nothing reaches a network. */
const REPORT_URL = 'http://report.test/report.html';
const WIDTHS = { phone: 375, wide: 1400 } as const;

const home = mkdtempSync(join(tmpdir(), 'report-browser-'));
const docs = new LocalDocumentStore(join(home, 'firestore'));
let context: BrowserContext;
let promoted: { stdout: string; run: RunDoc; trials: TrialDoc[]; html: string };
let failed: { stdout: string; stderr: string; code: number; run: RunDoc; html: string };
let challenger: { run: RunDoc; html: string };

async function runOf(source: string): Promise<RunDoc> {
  const runs = await readRuns(docs);
  return runs.find((r) => r.source.object.endsWith(source))!;
}

beforeAll(async () => {
  if (skip) return;
  mkdirSync(OUTPUT, { recursive: true });
  // The reference grid with the gate off: two epochs give a degenerate model, which the gate would reject.
  const grid = join(home, 'gate-off.json');
  writeFileSync(grid, JSON.stringify({ ...DEFAULT_GRID, gate: false }));
  const run = await trendcast([
    'run',
    REFERENCE_CSV,
    '--epochs',
    '2',
    '--configs',
    grid,
    '--max-jobs',
    '1',
    '--quiet',
    '--home',
    home,
  ]);
  expect(run.stderr).not.toMatch(/^error:/m);
  const promotedRun = await runOf('RELIANCE-EQ-12-11-2024-to-12-11-2025.csv');
  const trials = await readTrials(docs, promotedRun.runId);
  promoted = {
    stdout: run.stdout,
    run: promotedRun,
    trials,
    html: readFileSync(fileURLToPath(promotedRun.reportUri!), 'utf8'),
  };

  // The next year's CSV of the same symbol: judged against the promoted model, which scores its forecast.
  const nextYear = join(home, CONTINUATION_NAME);
  writeFileSync(nextYear, continuationCsv());
  const second = await trendcast([
    'run',
    nextYear,
    '--epochs',
    '2',
    '--configs',
    grid,
    '--max-jobs',
    '1',
    '--quiet',
    '--home',
    home,
  ]);
  expect(second.stderr).not.toMatch(/^error:/m);
  const challengerRun = await runOf(CONTINUATION_NAME);
  challenger = { run: challengerRun, html: readFileSync(fileURLToPath(challengerRun.reportUri!), 'utf8') };

  const bad = join(home, 'bad-prices.csv');
  writeFileSync(
    bad,
    'Date,Open,High,Low,Close,Volume\n2024-01-01,10,11,9,10,100\n2024-01-02,10,11,9,10.5,100\n2024-01-03,10,11,9,n/a,100\n',
  );
  const refused = await trendcast(['run', bad, '--home', home]);
  const failedRun = await runOf('bad-prices.csv');
  failed = { ...refused, run: failedRun, html: readFileSync(fileURLToPath(failedRun.reportUri!), 'utf8') };

  context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'chromium-profile-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 600_000);

afterAll(async () => {
  await context?.close();
});

/** Opens a report with every request routed; resolves to the page and what it asked for or complained about. */
async function open(html: string, width: number) {
  const page = await context.newPage();
  await page.setViewportSize({ width, height: 900 });
  const requests: string[] = [];
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  await page.route('**/*', (route) => {
    const url = route.request().url();
    requests.push(url);
    return url === REPORT_URL
      ? route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html })
      : route.abort('blockedbyclient');
  });
  const response = await page.goto(REPORT_URL, { waitUntil: 'load' });
  expect(response?.status()).toBe(200);
  return { page, requests, problems };
}

/** Page width beyond the window: 0 when nothing scrolls sideways. */
const horizontalOverflow = (page: Page) =>
  page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

/** Top-level section ids in order, and for each kind of chart how many drawn SVGs with a visible size. */
const layout = (page: Page) =>
  page.evaluate(() => {
    const sections = [...document.querySelectorAll('main > section')].map((s) => s.id);
    const charts: Record<string, number> = {};
    for (const figure of document.querySelectorAll('figure.chart')) {
      const svg = figure.querySelector('svg');
      const box = svg?.getBoundingClientRect();
      const drawn =
        svg && box && box.width > 50 && box.height > 50 && svg.querySelectorAll('path').length > 0;
      const kind = (figure as HTMLElement).dataset.chart!;
      charts[kind] = (charts[kind] ?? 0) + (drawn ? 1 : 0);
    }
    return { sections, charts };
  });

describe.skipIf(skip)('the run report in headless Chromium', () => {
  it('is written for the promoted reference run, and run, status and report say where', async () => {
    expect(promoted.run.status).toBe('promoted');
    const path = fileURLToPath(promoted.run.reportUri!);
    expect(promoted.stdout).toContain(`report: ${path}`);
    const status = await trendcast(['status', '--home', home]);
    expect(status.stdout).toContain(path);
    const detail = await trendcast(['status', promoted.run.runId, '--home', home]);
    expect(detail.stdout).toContain(`report: ${path}`);
    const out = join(home, 'copy.html');
    const report = await trendcast(['report', promoted.run.runId, '--out', out, '--home', home]);
    expect(report.code).toBe(0);
    expect(report.stdout).toContain(out);
    expect(readFileSync(out, 'utf8')).toBe(promoted.html);
    expect(Buffer.byteLength(promoted.html)).toBeLessThan(1024 * 1024);
  });

  it('opens the newest run’s report with the platform opener, or says where it is when there is none', async () => {
    const newest = fileURLToPath(failed.run.reportUri!);
    const bin = mkdtempSync(join(tmpdir(), 'opener-'));
    const opened = join(bin, 'opened');
    // A stand-in opener on PATH records what it was asked to open.
    writeFileSync(
      join(bin, process.platform === 'darwin' ? 'open' : 'xdg-open'),
      `#!/bin/sh\necho "$1" > "${opened}"\n`,
      {
        mode: 0o755,
      },
    );
    const withOpener = await trendcast(['report', '--open', '--home', home], { PATH: bin });
    expect(withOpener.code).toBe(0);
    expect(withOpener.stdout).toContain(newest);
    for (let i = 0; i < 200 && !existsSync(opened); i++) await new Promise((r) => setTimeout(r, 50));
    expect(readFileSync(opened, 'utf8').trim()).toBe(newest);

    const withoutOpener = await trendcast(['report', '--open', '--home', home], {
      PATH: mkdtempSync(join(tmpdir(), 'no-opener-')),
    });
    expect(withoutOpener.code).toBe(0);
    expect(withoutOpener.stdout).toMatch(
      new RegExp(`no (xdg-open|open) on this machine to open it; open ${newest} in a browser`),
    );
  });

  for (const [name, width] of Object.entries(WIDTHS)) {
    it(`shows every section and chart of the promoted run at ${name} width (${width} px), loading nothing else`, async () => {
      const { page, requests, problems } = await open(promoted.html, width);
      try {
        const succeeded = promoted.trials.filter((t) => t.status === 'succeeded');
        // The equity chart comes with predictions that carry prices per window; expect it exactly where they do.
        const withWindows = succeeded.filter((t) => {
          const p = ReportPredictions.parse(
            JSON.parse(readFileSync(fileURLToPath(t.artifacts!.predictions), 'utf8')),
          );
          return (p.windows?.length ?? 0) > 0;
        });
        const { sections, charts } = await layout(page);
        const forecast = await docs.get(`forecasts/RELIANCE_1d`);
        expect(sections).toEqual(SECTIONS.filter((s) => s !== 'forecast' || forecast));
        expect(charts).toEqual({
          price: 1,
          'learning-curves': succeeded.length,
          confusion: succeeded.length,
          roc: succeeded.length,
          ...(withWindows.length ? { equity: withWindows.length } : {}),
        });
        expect(await page.locator('#decision').innerText()).toContain(
          `Promoted ${promoted.run.promotion!.config}`,
        );
        expect(await page.locator('#ranking tbody tr').count()).toBe(3);
        expect(await page.locator('#configs').innerText()).toContain('LSTM');
        expect(await horizontalOverflow(page)).toBe(0);
        expect(problems).toEqual([]);
        expect(requests).toEqual([REPORT_URL]);
        await page.screenshot({ path: join(OUTPUT, `promoted-${width}.png`), fullPage: true });
        if (width === WIDTHS.wide) {
          await page.setViewportSize({ width: 1000, height: 1120 });
          await page.screenshot({ path: join(OUTPUT, 'readme.png') });
        }
      } finally {
        await page.close();
      }
    });
  }

  it('shows what a refused upload got wrong and where, at both widths, loading nothing else', async () => {
    expect(failed.code).toBe(2);
    expect(failed.stderr).toMatch(/^error: bad-prices\.csv, row 4, column "Close": "n\/a" is not a number/m);
    expect(failed.stdout).toContain(`report: ${fileURLToPath(failed.run.reportUri!)}`);
    for (const width of Object.values(WIDTHS)) {
      const { page, requests, problems } = await open(failed.html, width);
      try {
        expect((await layout(page)).sections).toEqual([...FAILED_SECTIONS]);
        const refused = page.locator('#refused');
        expect(await refused.locator('dd').nth(0).innerText()).toBe('bad-prices.csv');
        expect(await refused.locator('dd').nth(1).innerText()).toBe('4');
        expect(await refused.locator('dd').nth(2).innerText()).toBe('Close');
        expect(await horizontalOverflow(page)).toBe(0);
        expect(problems).toEqual([]);
        expect(requests).toEqual([REPORT_URL]);
        await page.screenshot({ path: join(OUTPUT, `failed-${width}.png`), fullPage: true });
      } finally {
        await page.close();
      }
    }
  });
  it("shows the current model as its own row in the next year's ranking, at both widths", async () => {
    const champion = challenger.run.champion!;
    expect(champion).toMatchObject({ version: 1, runId: promoted.run.runId, error: null });
    for (const width of Object.values(WIDTHS)) {
      const { page, requests, problems } = await open(challenger.html, width);
      try {
        const rows = page.locator('#ranking tbody tr');
        expect(await rows.count()).toBe(4);
        const last = await rows.nth(3).innerText();
        expect(last).toContain(`current model v1 (${champion.config})`);
        expect(last).toContain(champion.metrics!.f1.toFixed(4));
        expect(await horizontalOverflow(page)).toBe(0);
        expect(problems).toEqual([]);
        expect(requests).toEqual([REPORT_URL]);
      } finally {
        await page.close();
      }
    }
  });

  for (const [name, width] of Object.entries(WIDTHS)) {
    it(`shows the index page at ${name} width (${width} px): the model, forecast, track record and runs, loading nothing else`, async () => {
      const index = await trendcast(['report', '--index', '--home', home]);
      expect(index.code).toBe(0);
      const html = readFileSync(join(home, 'bucket', 'index.html'), 'utf8');
      const { page, requests, problems } = await open(html, width);
      try {
        expect((await layout(page)).sections).toEqual(['overview', 'RELIANCE-1d', 'refused']);
        const symbol = page.locator('#RELIANCE-1d');
        expect(await symbol.locator('h2').innerText()).toBe('RELIANCE 1d');
        const model = await docs.get('models/RELIANCE_1d');
        const current = (model as { current: { version: number } }).current.version;
        expect(await symbol.innerText()).toContain(`v${current}`);
        expect(await symbol.innerText()).toMatch(/[01] of 1 forecasts right/);
        const links = await symbol.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
        expect(links).toEqual(
          expect.arrayContaining([
            `runs/${promoted.run.runId}/report.html`,
            `runs/${challenger.run.runId}/report.html`,
          ]),
        );
        expect(await page.locator('#refused').innerText()).toContain('bad-prices.csv');
        expect(await horizontalOverflow(page)).toBe(0);
        expect(problems).toEqual([]);
        expect(requests).toEqual([REPORT_URL]);
        await page.screenshot({ path: join(OUTPUT, `index-${width}.png`), fullPage: true });
      } finally {
        await page.close();
      }
    });
  }
});
