/**
 * Ingest on large CSVs: for 10k, 100k, 200k and 1M 5-minute bars, the wall time, the peak memory (the child's maxRSS, each
 * size in a fresh child process) and the bytes written, for the ingest handler on the embedded adapters and for
 * `trendcast features` alike, with V8's old space capped as the ingest function's is (BENCH_HEAP_MB, 0: Node's default).
 * Prints one JSON line per measurement and a table.
 *
 *   npm run bench:ingest              # BENCH_BARS=10000,200000 to choose the sizes
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SIZES = (process.env.BENCH_BARS ?? '10000,100000,200000,1000000').split(',').map(Number);
/** V8's old-space cap for the children (`--max-old-space-size`), as the ingest function is given it; 0: Node's default. */
const heapMb = async () =>
  process.env.BENCH_HEAP_MB ?? String((await import('../cdktf/functions.ts')).FUNCTION_SIZES.ingest.heapMb);
const SELF = fileURLToPath(import.meta.url);

type Measured = {
  mode: string;
  bars: number;
  csvBytes: number;
  seconds: number;
  peakMB: number;
  writtenBytes: number;
};

/** A random walk of 5-minute NSE bars (09:15-15:35, weekdays), written as it is made. */
async function writeCsv(file: string, bars: number): Promise<void> {
  let seed = 7;
  const next = () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  const out = createWriteStream(file);
  out.write('Date,Open,High,Low,Close,Volume\n');
  let close = 1000;
  let day = Date.UTC(2000, 0, 3);
  let written = 0;
  while (written < bars) {
    const weekday = new Date(day).getUTCDay();
    let text = '';
    if (weekday !== 0 && weekday !== 6) {
      const date = new Date(day).toISOString().slice(0, 10);
      for (let bar = 0; bar < 75 && written < bars; bar++, written++) {
        const minutes = 9 * 60 + 15 + 5 * bar;
        const time = `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
        const open = close;
        close = Math.max(1, open * (1 + (next() - 0.5) * 0.004));
        const high = Math.max(open, close) * (1 + next() * 0.001);
        const low = Math.min(open, close) * (1 - next() * 0.001);
        text += `${date}T${time}:00+05:30,${open.toFixed(2)},${high.toFixed(2)},${low.toFixed(2)},${close.toFixed(2)},${Math.round(10_000 + next() * 90_000)}\n`;
      }
    }
    if (text && !out.write(text)) await new Promise<void>((r) => out.once('drain', () => r()));
    day += 86_400_000;
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
}

function bytesUnder(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  return total;
}

/** In the child: one ingest (or one `trendcast features`) of the CSV; prints seconds and what was written. */
async function child(mode: string, csv: string, work: string): Promise<void> {
  const start = process.hrtime.bigint();
  let written: string;
  // Each mode loads only what its real counterpart loads (the CLI loads one command's modules; the ingest function
  // its handlers): the memory measured is theirs, not the benchmark's.
  if (mode === 'features') {
    const { writeFeatures } = await import('../cli/commands/features.ts');
    written = join(work, 'dataset');
    await writeFeatures(csv, written);
  } else {
    const [{ LocalDocumentStore }, { LocalMessageBus }, { LocalObjectStore }, { createLogger }, { ingest }] =
      await Promise.all([
        import('../adapters/local/document-store.ts'),
        import('../adapters/local/message-bus.ts'),
        import('../adapters/local/object-store.ts'),
        import('../adapters/log.ts'),
        import('../functions/index.ts').then(() => import('../functions/ingest.ts')),
      ]);
    const [{ readRun }, { deriveRunId }, { readSettings }] = await Promise.all([
      import('../shared/records.ts'),
      import('../shared/run-id.ts'),
      import('../shared/settings.ts'),
    ]);
    const store = new LocalObjectStore(join(work, 'bucket'));
    const key = 'incoming/BENCH.csv';
    await mkdir(join(work, 'bucket', 'incoming'), { recursive: true });
    await copyFile(csv, join(work, 'bucket', key));
    const size = statSync(csv).size;
    const deps = {
      store,
      docs: new LocalDocumentStore(join(work, 'firestore')),
      bus: new LocalMessageBus({}),
      launcher: {
        capacity: 1,
        launch: async () => ({ jobId: 'none', started: false }),
        status: async () => ({ state: 'unknown' as const, platformState: 'UNKNOWN' }),
        cancel: async () => {},
      },
      // The limit is lifted here to measure sizes beyond it; the default is what this benchmark sizes.
      // The default grid on 200,000 bars is over the default run budget (about 97 accelerator-hours): this measures
      // memory, so the budget is lifted.
      settings: readSettings({
        TRENDCAST_MAX_UPLOAD_BYTES: String(size),
        TRENDCAST_MAX_RUN_HOURS: '1000000',
      }),
      log: createLogger({}, { write: () => {} }),
    };
    const generation = BigInt(`0x${createHash('sha256').update(csv).digest('hex').slice(0, 15)}`).toString();
    const data = { bucket: 'local', name: key, generation, size: String(size) };
    await ingest(
      { id: 'bench', type: 'google.cloud.storage.object.v1.finalized', source: 'bench', data },
      deps,
    );
    const runId = deriveRunId('local', key, generation);
    const run = await readRun(deps.docs, runId);
    if (run?.status !== 'training') throw new Error(`ingest ended ${run?.status}: ${run?.error}`);
    written = join(work, 'bucket', 'datasets', runId);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  // maxRSS is the high-water mark of the whole process, in kB.
  const peakMB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify({ seconds, peakMB, writtenBytes: bytesUnder(written) })}\n`);
}

async function main(): Promise<void> {
  const HEAP_MB = await heapMb();
  const results: Measured[] = [];
  for (const bars of SIZES) {
    const work = mkdtempSync(join(tmpdir(), 'bench-ingest-'));
    try {
      const csv = join(work, 'prices.csv');
      await writeCsv(csv, bars);
      const csvBytes = statSync(csv).size;
      for (const mode of ['ingest', 'features']) {
        const out = spawnSync(
          process.execPath,
          [
            ...process.execArgv,
            ...(HEAP_MB !== '0' ? [`--max-old-space-size=${HEAP_MB}`] : []),
            SELF,
            'child',
            mode,
            csv,
            join(work, mode),
          ],
          {
            encoding: 'utf8',
            maxBuffer: 1 << 20,
          },
        );
        if (out.status !== 0) {
          process.stdout.write(
            `${mode} of ${bars} bars failed: ${out.stderr.split('\n').slice(0, 8).join(' | ')}\n`,
          );
          continue;
        }
        const measured = { mode, bars, csvBytes, ...JSON.parse(out.stdout.trim().split('\n').at(-1)!) };
        process.stdout.write(`${JSON.stringify(measured)}\n`);
        results.push(measured);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  const mb = (b: number) => (b / 1e6).toFixed(1);
  process.stdout.write(
    `\n${cpus()[0]?.model} x${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ` +
      `old space ${HEAP_MB !== '0' ? `${HEAP_MB} MB` : 'default'}\n` +
      '| what | bars | CSV MB | seconds | peak RSS MB | written MB |\n|---|---:|---:|---:|---:|---:|\n' +
      results
        .map(
          (r) =>
            `| ${r.mode} | ${r.bars.toLocaleString('en')} | ${mb(r.csvBytes)} | ${r.seconds.toFixed(1)} | ${r.peakMB.toFixed(0)} | ${mb(r.writtenBytes)} |`,
        )
        .join('\n') +
      '\n',
  );
}

if (process.argv[2] === 'child') await child(process.argv[3]!, process.argv[4]!, process.argv[5]!);
else await main();
