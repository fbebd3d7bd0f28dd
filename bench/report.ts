/**
 * Time and size of the run report for a reference-sized run (three trials of 150 epochs, the backtest, p-values and
 * the forecast): what writeRunReport adds to the collector's last delivery of a run.
 *
 *   npm run bench:report
 */
import { cpus } from 'node:os';
import { renderReport } from '../report/render.ts';
import { referenceInput, referenceLayers } from '../test/helpers/report.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 10);

const input = referenceInput(await referenceLayers());
const first = process.hrtime.bigint();
const html = await renderReport(input);
const firstMs = Number(process.hrtime.bigint() - first) / 1e6;
const times: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const start = process.hrtime.bigint();
  await renderReport(input);
  times.push(Number(process.hrtime.bigint() - start) / 1e6);
}
times.sort((a, b) => a - b);
const charts = html.split('data-chart=').length - 1;
console.log(`${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`);
console.log(
  `reference-sized report: ${(Buffer.byteLength(html) / 1024).toFixed(0)} KiB, ${charts} charts; ` +
    `first render ${firstMs.toFixed(0)} ms, then median ${times[Math.floor(RUNS / 2)]!.toFixed(0)} ms ` +
    `(min ${times[0]!.toFixed(0)}, max ${times[RUNS - 1]!.toFixed(0)}) over ${RUNS} renders`,
);
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
