import { beforeAll, describe, expect, it } from 'vitest';
import { equityCurve, type LayerSummary, refusedAt, rocPoints } from '../../report/inputs.ts';
import { FAILED_SECTIONS, renderReport, SECTIONS } from '../../report/render.ts';
import { buildDataset } from '../../shared/dataset.ts';
import { InputError } from '../../shared/errors.ts';
import { runDoc } from '../helpers/docs.ts';
import { referenceInput, referenceLayers } from '../helpers/report.ts';

/** Ids of the page's top-level sections, in document order. */
const sectionIds = (html: string) => [...html.matchAll(/<section id="([^"]+)"/g)].map((m) => m[1]);
const charts = (html: string, kind: string) => html.split(`data-chart="${kind}"`).length - 1;

/** Everything in the page that could make a browser fetch something, or run something. */
function externalReferences(html: string): string[] {
  const found: string[] = [];
  // Namespace names are identifiers, never fetched: the only http URLs allowed.
  const withoutNamespaces = html.replace(/xmlns(:\w+)?="http:\/\/www\.w3\.org\/[^"]*"/g, '');
  for (const m of withoutNamespaces.matchAll(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"')<]*/gi))
    found.push(m[0]);
  for (const pattern of [/<script/i, /<link/i, /<img/i, /<iframe/i, /@import/i, /@font-face/i, /\bsrc=/i])
    if (pattern.test(html)) found.push(String(pattern));
  for (const m of html.matchAll(/(?:href|url\()\s*=?\s*["']?([^"')\s>]+)/gi))
    if (!m[1]!.startsWith('#')) found.push(m[0]);
  return found;
}

describe('renderReport', () => {
  let layers: Map<string, { layers: LayerSummary[]; countParams: number }>;
  beforeAll(async () => {
    layers = await referenceLayers();
  });

  it('renders a promoted reference-sized run with every section and chart, self-contained, under 1 MB', async () => {
    const input = referenceInput(layers);
    const html = await renderReport(input);
    expect(sectionIds(html)).toEqual([...SECTIONS]);
    expect(charts(html, 'price')).toBe(1);
    for (const kind of ['learning-curves', 'confusion', 'roc', 'equity']) expect(charts(html, kind)).toBe(3);
    expect(html).toMatch(/Promoted <b>config_1_baseline<\/b> as RELIANCE 1d model v3/);
    expect(html).toContain('1731400000000000'); // the source object's generation
    expect(html).toContain('72 up (52.2%) / 66 down (47.8%)');
    expect(html).toContain('110 train / 28 validation');
    expect(html).toContain('2025-01-23 → 2025-11-10');
    expect(html).toContain('<th>p-value</th>');
    expect(html).toContain('<th>accuracy interval</th>');
    expect(html).toContain('does not beat the majority-class baseline');
    expect(html).toContain('10 bps per change of position');
    expect(html).toMatch(/As of 2025-11-10: <b>up<\/b>, probability of an up close 58\.0%/);
    // Architecture from the saved model: every layer, and parameters that add up to the model's own count.
    expect(html).toContain('<td>lstm_1</td><td>LSTM</td><td>8 units, tanh</td>');
    for (const { layers: summary, countParams } of layers.values()) {
      const total = summary.reduce((a, l) => a + l.parameters, 0);
      expect(total).toBe(countParams);
      expect(html).toContain(`<b>${total.toLocaleString('en-US')}</b>`);
    }
    expect(externalReferences(html)).toEqual([]);
    expect(Buffer.byteLength(html)).toBeLessThan(1024 * 1024);
  });

  it('gives the same bytes for the same input (a duplicate write changes nothing)', async () => {
    const input = referenceInput(layers);
    expect(await renderReport(input)).toBe(await renderReport(input));
  });

  it('renders a rejected run: why nothing was promoted, and no section for what is absent', async () => {
    const input = referenceInput(undefined, {
      status: 'rejected',
      promotion: null,
      reason:
        'no trial qualifies for promotion (config_1_baseline: degenerate: answers "up" for 100.0% of windows)',
    });
    delete input.forecast;
    for (const t of input.trials) {
      t.extras = {};
      delete t.predictions!.windows;
    }
    const html = await renderReport(input);
    expect(sectionIds(html)).toEqual(SECTIONS.filter((s) => s !== 'forecast'));
    expect(html).toContain('Nothing was promoted: no trial qualifies for promotion');
    expect(html).toContain('answers &quot;up&quot; for 100.0% of windows');
    expect(html).not.toContain('class="badge"');
    expect(html).not.toContain('<th>p-value</th>');
    expect(charts(html, 'equity')).toBe(0);
    expect(charts(html, 'roc')).toBe(3);
    expect(html).toContain('No model.json could be read');
    expect(externalReferences(html)).toEqual([]);
  });

  it('renders a failed run with what was refused and where: file, row, column', async () => {
    const csv = 'Date,Open,High,Low,Close,Volume\n2024-01-01,10,11,9,10,100\n2024-01-02,10,11,9,ten,100\n';
    let error = '';
    try {
      buildDataset({ bytes: Buffer.from(csv), fileName: 'prices.csv' });
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      error = (e as Error).message;
    }
    const run = runDoc('run-failed-report', [], {
      status: 'failed',
      symbol: null,
      timeframe: null,
      error,
      source: { bucket: 'b', object: 'incoming/prices.csv', generation: '7' },
      finishedAt: '2025-11-12T10:00:00.000Z',
    });
    const html = await renderReport({ run, trials: [] });
    expect(sectionIds(html)).toEqual([...FAILED_SECTIONS]);
    expect(html).toContain('The upload was refused');
    expect(html).toMatch(/<dt>file<\/dt><dd><code>prices\.csv<\/code><\/dd>/);
    expect(html).toMatch(/<dt>row<\/dt><dd>3<\/dd>/);
    expect(html).toMatch(/<dt>column<\/dt><dd>Close<\/dd>/);
    expect(html).toContain('&quot;ten&quot; is not a number');
    expect(externalReferences(html)).toEqual([]);
  });

  it('has a self-containment check that finds what a page could fetch', () => {
    expect(
      externalReferences(
        '<svg xmlns="http://www.w3.org/2000/svg"><image href="https://cdn.example.com/a.png"/></svg>' +
          '<style>@import "x.css";</style><a href="page.html">x</a><p>see //evil.example.org/x</p>',
      ),
    ).toEqual([
      'https://cdn.example.com/a.png',
      '//evil.example.org/x',
      '/@import/i',
      'href="https://cdn.example.com/a.png',
      'href="page.html',
    ]);
    expect(
      externalReferences('<svg xmlns="http://www.w3.org/2000/svg"><path clip-path="url(#c-1)"/></svg>'),
    ).toEqual([]);
  });

  it('escapes every text it is given', async () => {
    const input = referenceInput(undefined, { reason: '<script>alert(1)</script> & "quotes"' });
    const html = await renderReport(input);
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;');
  });
});

describe('report inputs', () => {
  it('reads where an error points: file, row and column, or the whole text', () => {
    expect(refusedAt('a.csv, row 12, column "Close ": "x" is not a number')).toEqual({
      file: 'a.csv',
      row: '12',
      column: 'Close ',
      problem: '"x" is not a number',
    });
    expect(refusedAt('a.csv, rows 3 and 9: conflicting rows for 2024-01-02')).toMatchObject({
      row: '3 and 9',
      column: null,
    });
    expect(refusedAt('NIFTY 50-x.csv: the file is empty')).toMatchObject({
      file: 'NIFTY 50-x.csv',
      row: null,
    });
    expect(refusedAt('ingest failed on every attempt: timeout')).toEqual({
      file: null,
      row: null,
      column: null,
      problem: 'ingest failed on every attempt: timeout',
    });
  });

  it('computes the ROC points of scikit-learn (ties share a point) and none for one class', () => {
    expect(rocPoints([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toEqual([
      { fpr: 0, tpr: 0 },
      { fpr: 0, tpr: 0.5 },
      { fpr: 0.5, tpr: 0.5 },
      { fpr: 0.5, tpr: 1 },
      { fpr: 1, tpr: 1 },
    ]);
    expect(rocPoints([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5])).toEqual([
      { fpr: 0, tpr: 0 },
      { fpr: 1, tpr: 1 },
    ]);
    expect(rocPoints([1, 1], [0.2, 0.9])).toBeNull();
  });

  it('compounds the equity curve with costs on every change of position', () => {
    const curve = equityCurve(
      [
        { timestamp: 'd1', close: 100, nextClose: 110, probability: 0.7, position: 1 },
        { timestamp: 'd2', close: 110, nextClose: 99, probability: 0.3, position: 0 },
        { timestamp: 'd3', close: 99, nextClose: 108.9, probability: 0.6, position: 1 },
      ],
      100,
    );
    expect(curve.map((p) => p.buyHold)).toEqual([1.1, expect.closeTo(0.99, 12), expect.closeTo(1.089, 12)]);
    // +10% less 1% cost; flat (less 1% to leave); +10% less 1% to enter again.
    expect(curve[0]!.strategy).toBeCloseTo(1.09, 12);
    expect(curve[1]!.strategy).toBeCloseTo(1.09 * 0.99, 12);
    expect(curve[2]!.strategy).toBeCloseTo(1.09 * 0.99 * 1.09, 12);
  });
});
