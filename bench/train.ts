/**
 * Seconds per training epoch of each default config, per available backend, and the peak memory of each training
 * process (the real trainer: runTraining, the full model, validation included), beside the same model in Keras
 * (bench/keras_reference.py) when a Python with TensorFlow is at hand. Every process is pinned to core 0 with
 * `taskset` (where it exists): pinned, both do the same work on the same core, the fair comparison.
 *
 *   npm run bench:train                                  # wasm, 3 epochs per config (about a minute)
 *   BENCH_PYTHON=/tmp/kvenv/bin/python npm run bench:train   # with Keras beside it, and the ratio
 *   BENCH_DATASET=intraday BENCH_CONFIGS=config_1_baseline BENCH_EPOCHS=2 npm run bench:train
 *                                                        # a year of 5-minute bars (synthetic, 14,615 training windows)
 *   BENCH_BACKENDS=wasm,cpu npm run bench:train          # the plain CPU backend too, 1 epoch per config
 *   BENCH_BACKENDS=wasm,node npm run bench:train         # tfjs-node too (npm run build:tfjs-node first)
 *
 * Other settings: BENCH_CPUS (the taskset CPU list, default 0; "none" runs unpinned); BENCH_THREADS (threads of
 * each side, default 1: Keras's intra- and inter-op threads, trendcast's LSTM kernel threads), e.g.
 *   BENCH_CPUS=0,1 BENCH_THREADS=2 BENCH_PYTHON=/tmp/kvenv/bin/python npm run bench:train   # both cores each
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_GRID } from '../shared/config.ts';
import { buildDataset, datasetFileBytes } from '../shared/dataset.ts';
import { intradayCsv } from '../test/helpers/intraday.ts';
import { setKernelThreads } from '../trainer/engine/lstm.ts';
import { runTraining } from '../trainer/train.ts';

const REFERENCE = fileURLToPath(
  new URL('../samples/Quote-Equity-RELIANCE-EQ-12-11-2024-to-12-11-2025.csv', import.meta.url),
);
type Measured = {
  backend: string;
  config: string;
  epochSeconds: number[];
  epochCpuSeconds: number[];
  maxRssMb: number;
  status: string;
};
type KerasMeasured = {
  config: string;
  first_epoch_s: number;
  s_per_epoch: number;
  cpu_s_per_epoch: number;
  epochs: number;
  tf: string;
};

/** The median of epochs 2..N (the first includes start-up), as keras_reference.py reports it. */
function steadyMedian(perEpoch: number[]): number {
  const steady = (perEpoch.length > 1 ? perEpoch.slice(1) : perEpoch).sort((a, b) => a - b);
  const mid = Math.floor(steady.length / 2);
  return steady.length % 2 ? steady[mid]! : (steady[mid - 1]! + steady[mid]!) / 2;
}

const KERAS_SCRIPT = fileURLToPath(new URL('./keras_reference.py', import.meta.url));
const CPUS = process.env.BENCH_CPUS ?? '0';
const THREADS = Number(process.env.BENCH_THREADS ?? 1);

/** [command, args] that runs `command args` pinned to BENCH_CPUS when taskset exists. */
function pinned(command: string, args: string[]): [string, string[]] {
  if (CPUS === 'none') return [command, args];
  try {
    execFileSync('taskset', ['-c', CPUS, 'true']);
  } catch {
    console.error(`taskset -c ${CPUS} is not available here: running unpinned`);
    return [command, args];
  }
  return ['taskset', ['-c', CPUS, command, ...args]];
}

/** The Python that runs the Keras side: BENCH_PYTHON, or python3 when it imports TensorFlow; else undefined. */
function kerasPython(): string | undefined {
  const python = process.env.BENCH_PYTHON ?? 'python3';
  try {
    execFileSync(python, ['-c', 'import tensorflow'], {
      stdio: 'pipe',
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
    });
    return python;
  } catch {
    console.error(
      `Keras comparison left out: ${python} cannot import tensorflow (python3 -m venv /tmp/kvenv && /tmp/kvenv/bin/pip install numpy tensorflow-cpu; then BENCH_PYTHON=/tmp/kvenv/bin/python)`,
    );
    return undefined;
  }
}

/** Keras's seconds per epoch for the named configs, on BENCH_THREADS threads, pinned like trendcast. */
function runKeras(python: string, datasetDir: string, configs: string[], epochs: number): KerasMeasured[] {
  // keras_reference.py names the configs by their number: config_2_deeper is "2".
  const keys = configs.map((name) => name.split('_')[1]).join(',');
  const [command, args] = pinned(python, [
    KERAS_SCRIPT,
    datasetDir,
    '--epochs',
    String(Math.max(epochs, 2)),
    '--configs',
    keys,
    '--threads',
    String(THREADS),
  ]);
  const out = execFileSync(command, args, {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as KerasMeasured);
}

async function child(backend: string, configName: string, datasetDir: string, epochs: number): Promise<void> {
  process.env.TRENDCAST_TFJS_BACKEND = backend;
  setKernelThreads(THREADS);
  const config = { ...DEFAULT_GRID.configs.find((c) => c.name === configName)!, epochs, patience: 1000 };
  const times: number[] = [];
  const cpuTimes: number[] = [];
  let last = performance.now();
  let lastCpu = process.cpuUsage();
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
        const cpu = process.cpuUsage(lastCpu);
        cpuTimes.push((cpu.user + cpu.system) / 1e6);
        lastCpu = process.cpuUsage();
      },
    },
  );
  const measured: Measured = {
    backend,
    config: configName,
    epochSeconds: times,
    epochCpuSeconds: cpuTimes,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    status: result.status === 'failed' ? `failed: ${result.error}` : 'ok',
  };
  process.stdout.write(`${JSON.stringify(measured)}\n`);
}

async function main(): Promise<void> {
  const datasetDir = mkdtempSync(join(tmpdir(), 'bench-dataset-'));
  mkdirSync(datasetDir, { recursive: true });
  const intraday = process.env.BENCH_DATASET === 'intraday';
  const { files, manifest } = intraday
    ? buildDataset({ bytes: Buffer.from(intradayCsv()), fileName: 'SYNTHETIC-5m.csv' })
    : buildDataset({ bytes: readFileSync(REFERENCE), fileName: REFERENCE });
  for (const [name, data] of Object.entries(files))
    writeFileSync(join(datasetDir, name), datasetFileBytes(data));
  const backends = (process.env.BENCH_BACKENDS ?? 'wasm').split(',');
  const configs = process.env.BENCH_CONFIGS?.split(',') ?? DEFAULT_GRID.configs.map((c) => c.name);
  const python = kerasPython();
  const rows: Measured[] = [];
  const keras: KerasMeasured[] = [];
  // Config by config, Keras and then every backend in turn: the shared machine's load changes by the minute, so
  // what is compared runs in the same stretch of it.
  for (const name of configs) {
    if (python) {
      for (const k of runKeras(python, datasetDir, [name], Number(process.env.BENCH_EPOCHS ?? 3))) {
        keras.push(k);
        console.error(`keras ${k.config}: ${k.s_per_epoch} s/epoch (first ${k.first_epoch_s} s)`);
      }
    }
    for (const backend of backends) {
      const epochs = Number(process.env.BENCH_EPOCHS ?? (backend === 'cpu' ? 1 : 3));
      // One process per run, so that its peak memory is its own.
      const [command, args] = pinned(process.execPath, [
        '--import',
        'tsx',
        fileURLToPath(import.meta.url),
        '--child',
        backend,
        name,
        datasetDir,
        String(epochs),
      ]);
      const out = execFileSync(command, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
      const measured = JSON.parse(out.trim().split('\n').pop()!) as Measured;
      rows.push(measured);
      console.error(`${backend} ${name}: ${measured.epochSeconds.map((s) => s.toFixed(2)).join(', ')} s`);
    }
  }
  const { train, validation } = manifest.counts;
  console.log(
    `${intraday ? 'a year of 5-minute bars (synthetic)' : 'reference dataset'} (${train} training + ${validation} validation windows of 60×27), ` +
      `Node ${process.version}, ${cpus()[0]?.model}, ${CPUS === 'none' ? 'unpinned' : `taskset -c ${CPUS}`}, ${new Date().toISOString()}`,
  );
  if (keras[0])
    console.log(
      `Keras: TensorFlow ${keras[0].tf}, ${THREADS} thread(s), median of epochs 2..${keras[0].epochs}; trendcast's kernel on ${THREADS}`,
    );
  // CPU seconds beside wall seconds: on a shared machine, pinned processes wait for the core in turn, and the wall
  // time then depends on the others' load; the CPU time is the work done.
  console.log(
    '| backend | config | s/epoch (median after the first) | CPU s/epoch | epochs | first epoch, with start-up | peak RSS | Keras s/epoch | Keras CPU s/epoch | trendcast / Keras (wall, CPU) |',
  );
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const wall = steadyMedian(r.epochSeconds);
    const cpu = steadyMedian(r.epochCpuSeconds);
    const k = keras.find((m) => m.config === r.config);
    const versus = k
      ? `${k.s_per_epoch.toFixed(2)} | ${k.cpu_s_per_epoch.toFixed(2)} | ${(wall / k.s_per_epoch).toFixed(2)}×, ${(cpu / k.cpu_s_per_epoch).toFixed(2)}×`
      : '— | — | —';
    console.log(
      `| ${r.backend} | ${r.config} | ${wall.toFixed(2)} | ${cpu.toFixed(2)} | ${r.epochSeconds.length} | ${r.epochSeconds[0]?.toFixed(2)} | ${r.maxRssMb.toFixed(0)} MB | ${versus} |${r.status === 'ok' ? '' : ` ${r.status}`}`,
    );
  }
}

if (process.argv[2] === '--child') {
  const [, , , backend, config, datasetDir, epochs] = process.argv;
  await child(backend!, config!, datasetDir!, Number(epochs));
} else {
  await main();
}
