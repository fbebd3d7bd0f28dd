// What the run report and the index page share: escaping, number formats, tables, facts and the one stylesheet.

export const esc = (value: unknown) =>
  String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

export const fixed = (x: number | null | undefined, digits = 4) =>
  x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits);

export const pct = (x: number | null | undefined, digits = 1) =>
  x === null || x === undefined || !Number.isFinite(x) ? '–' : `${(100 * x).toFixed(digits)}%`;

export const pValue = (p: number | undefined) =>
  p === undefined ? '–' : p < 0.001 ? '&lt; 0.001' : p.toFixed(3);

export function table(head: string[], rows: string[][], className = ''): string {
  const th = head.map((h) => `<th>${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return `<div class="scroll"><table class="${className}"><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

/** Labelled values in a grid; a `wide` one (a long path) takes two columns. */
export function facts(entries: Array<[string, string] | [string, string, 'wide']>): string {
  const items = entries.map(
    ([k, v, wide]) => `<div${wide ? ' class="wide"' : ''}><dt>${esc(k)}</dt><dd>${v}</dd></div>`,
  );
  return `<dl class="facts">${items.join('')}</dl>`;
}

/** `2025-11-12T10:05:00.000Z` as `2025-11-12 10:05:00 UTC`: shorter, and it wraps at the space. */
export const when = (iso: string | null) =>
  iso ? esc(iso.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC')) : '–';

export const CSS = `
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;background:#f5f6f8}
main{max-width:1180px;margin:0 auto;padding:16px}
section{background:#fff;border-radius:8px;padding:16px;margin:0 0 16px;box-shadow:0 1px 2px rgba(0,0,0,.08);min-width:0}
section.trial{box-shadow:none;border:1px solid #e3e5e8;margin:12px 0 0}
h1{font-size:1.6em;margin:.1em 0 .3em}
h2{font-size:1.25em;margin:0 0 .6em}
h3{font-size:1.05em;margin:.2em 0 .5em}
p,dd,td{overflow-wrap:anywhere}
code{font:.9em ui-monospace,Menlo,Consolas,monospace}
.status{display:inline-block;margin:0;padding:2px 10px;border-radius:12px;font-weight:700;font-size:.85em;letter-spacing:.05em}
.promoted .status{background:#dff3e4;color:#176f2c}
.rejected .status{background:#fff1d6;color:#8a5a00}
.failed .status{background:#fde2e1;color:#a4161a}
.sentence{font-size:1.1em}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:8px 16px;margin:12px 0}
.facts div{min-width:0}
.facts .wide{grid-column:span 2}
.facts dt{font-size:.8em;color:#5f6368;text-transform:uppercase;letter-spacing:.04em}
.facts dd{margin:0}
.scroll{overflow-x:auto;max-width:100%;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;font-size:.9em;min-width:100%}
th,td{padding:5px 8px;border-bottom:1px solid #e3e5e8;text-align:left;vertical-align:top}
th{white-space:nowrap;background:#fafbfc}
table.numbers td{white-space:nowrap}
table.numbers td:last-child{white-space:normal;min-width:16em}
.charts{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
figure.chart{margin:0;min-width:0;max-width:100%;overflow-x:auto}
figure.chart svg{display:block;max-width:100%;height:auto}
figure.wide svg{min-width:480px}
figcaption{font-size:.8em;color:#5f6368;margin-top:2px}
.badge{background:#176f2c;color:#fff;border-radius:10px;padding:1px 8px;font-size:.75em;font-weight:600;vertical-align:middle}
.yes{color:#176f2c;font-weight:600}
.no{color:#a4161a;font-weight:600}
.note{color:#5f6368}
footer{color:#5f6368;font-size:.8em;text-align:center;padding:8px}
`;
