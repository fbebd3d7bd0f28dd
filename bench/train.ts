/**
 * Seconds per training epoch of each default config on the reference dataset, per available backend, and the peak
 * memory of each training process (the real trainer: runTraining, the full model, validation included).
 *
 *   npm run bench:train                          # wasm, 3 epochs per config (about a minute)
 *   BENCH_BACKENDS=wasm,cpu npm run bench:train  # the plain CPU backend too, 1 epoch per config (about 10 minutes)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_GRID } from '../shared/config.ts';
import { buildDataset } from '../shared/dataset.ts';
import { runTraining } from '../trainer/train.ts';

const REFERENCE = fileURLToPath(
  new URL('../samples/Quote-Equity-RELIANCE-EQ-12-11-2024-to-12-11-2025.csv', import.meta.url),
);
type Measured = { backend: string; config: string; epochSeconds: number[]; maxRssMb: number; status: string };

async function child(backend: string, configName: string, datasetDir: string, epochs: number): Promise<void> {
  process.env.TRENDCAST_TFJS_BACKEND = backend;
  const config = { ...DEFAULT_GRID.configs.find((c) => c.name === configName)!, epochs, patience: 1000 };
  const times: number[] = [];
  let last = performance.now();
  const result = await runTraining(
    {
      runId: 'run-bench',
      config,
      datasetUri: `${pathToFileURL(datasetDir).href}/`,
      outputUri: `${pathToFileURL(mkdtempSync(join(tmpdir(), 'bench-out-'))).href}/`,
      seed: 1,
    },
    {
      onEpoch: () => {
        const now = performance.now();
        times.push((now - last) / 1000);
        last = now;
      },
    },
  );
  const measured: Measured = {
    backend,
    config: configName,
    epochSeconds: times,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    status: result.status === 'failed' ? `failed: ${result.error}` : 'ok',
  };
  process.stdout.write(`${JSON.stringify(measured)}\n`);
}

async function main(): Promise<void> {
  const datasetDir = mkdtempSync(join(tmpdir(), 'bench-dataset-'));
  mkdirSync(datasetDir, { recursive: true });
  const { files } = buildDataset({ bytes: readFileSync(REFERENCE), fileName: REFERENCE });
  for (const [name, data] of Object.entries(files)) writeFileSync(join(datasetDir, name), data);
  const backends = (process.env.BENCH_BACKENDS ?? 'wasm').split(',');
  const rows: Measured[] = [];
  for (const backend of backends) {
    const epochs = Number(process.env.BENCH_EPOCHS ?? (backend === 'cpu' ? 1 : 3));
    for (const { name } of DEFAULT_GRID.configs) {
      // One process per run, so that its peak memory is its own.
      const out = execFileSync(
        process.execPath,
        [
          '--import',
          'tsx',
          fileURLToPath(import.meta.url),
          '--child',
          backend,
          name,
          datasetDir,
          String(epochs),
        ],
        {
          encoding: 'utf8',
          maxBuffer: 16 * 1024 * 1024,
        },
      );
      const measured = JSON.parse(out.trim().split('\n').pop()!) as Measured;
      rows.push(measured);
      console.error(`${backend} ${name}: ${measured.epochSeconds.map((s) => s.toFixed(2)).join(', ')} s`);
    }
  }
  console.log(
    `reference dataset (110 training + 28 validation windows of 60×27), Node ${process.version}, ${cpus()[0]?.model}`,
  );
  console.log(
    '| backend | config | s/epoch (mean after the first) | epochs | first epoch, with start-up | peak RSS |',
  );
  console.log('|---|---|---:|---:|---:|---:|');
  for (const r of rows) {
    const steady = r.epochSeconds.length > 1 ? r.epochSeconds.slice(1) : r.epochSeconds;
    const mean = steady.reduce((a, b) => a + b, 0) / steady.length;
    console.log(
      `| ${r.backend} | ${r.config} | ${mean.toFixed(2)} | ${r.epochSeconds.length} | ${r.epochSeconds[0]?.toFixed(2)} | ${r.maxRssMb.toFixed(0)} MB |${r.status === 'ok' ? '' : ` ${r.status}`}`,
    );
  }
}

if (process.argv[2] === '--child') {
  const [, , , backend, config, datasetDir, epochs] = process.argv;
  await child(backend!, config!, datasetDir!, Number(epochs));
} else {
  await main();
}
