// The job side of the local Vertex AI service: CustomJobs kept in memory, each run as a child process (the trainer
// image's entrypoint, `node bin/trendcast.js`, with the container's args and env), moved through Vertex AI's states,
// held to a per-accelerator quota, cancelled, timed out, or failed on purpose by an injected fault.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QUOTA_METRICS, quotaFor } from '../../shared/vertex-quota.ts';
import { type FilterableJob, FilterError, type JobState, parseFilter } from './filter.ts';
import type { CustomJob } from './protos.ts';

/** An error the REST API answers with: HTTP status, google.rpc status name and message. */
export class ApiError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly status: string,
    message: string,
  ) {
    super(message);
  }
}

/** google.rpc.Code, for the `error` of a failed or cancelled job. */
const RPC_CODE = {
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  UNAVAILABLE: 14,
};

/**
 * `image-pull`: fails in PENDING, the image cannot be pulled; `preempt`: the container is killed while it runs;
 * `hang`: the container never ends; `stockout`: accepted within quota, then fails in PENDING because the region has
 * no machine of that kind free (Vertex AI's "Resources are insufficient"), after the job's quota was counted.
 */
export const FAULTS = ['image-pull', 'preempt', 'hang', 'stockout'] as const;
export type Fault = (typeof FAULTS)[number];
/** A job with this label gets the fault its value names. */
export const FAULT_LABEL = 'vertex-ai-emulator-fault';

/** One T4 (the stack's default machine) and 32 vCPUs; every other accelerator type starts at 0, as in a new project. */
export const DEFAULT_QUOTA: Record<string, number> = { NVIDIA_TESLA_T4: 1, NONE: 32 };

const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** The trainer image's ENTRYPOINT (`node bin/trendcast.js`, WORKDIR /app), on this checkout. */
export const TRAINER_ENTRYPOINT = [process.execPath, join(REPO, 'bin/trendcast.js')];

const LIVE_STATES: JobState[] = [
  'JOB_STATE_QUEUED',
  'JOB_STATE_PENDING',
  'JOB_STATE_RUNNING',
  'JOB_STATE_CANCELLING',
];
const FINAL_STATES: JobState[] = [
  'JOB_STATE_SUCCEEDED',
  'JOB_STATE_FAILED',
  'JOB_STATE_CANCELLED',
  'JOB_STATE_EXPIRED',
];
/** Vertex AI's default `scheduling.timeout`. */
const DEFAULT_TIMEOUT_MS = 7 * 24 * 3600 * 1000;
const REPLICA = 'workerpool0-0';

export interface JobServiceOptions {
  /** Limit per accelerator type (`NONE`: vCPUs); merged over DEFAULT_QUOTA. */
  quota?: Record<string, number>;
  /** The image's entrypoint; containerSpec.args follow it. Default TRAINER_ENTRYPOINT. */
  entrypoint?: string[];
  /** The image's WORKDIR. Default: this checkout. */
  workdir?: string;
  /** The image's own environment (emulator hosts and the like); the job's containerSpec.env overrides it. */
  env?: Record<string, string>;
  /** Where each job's output (`<job id>.log`) and a `jobs.json` snapshot go; none kept when unset. */
  stateDir?: string;
  /** Time spent in each of QUEUED and PENDING before the container starts. Default 300 ms. */
  stepMs?: number;
  /** Time spent in PENDING (finding a machine, pulling the image), when longer than `stepMs`. */
  pendingMs?: number;
  /** After SIGTERM (cancel, timeout), SIGKILL follows this much later. Default 5 s. */
  killGraceMs?: number;
  /** A `preempt` fault kills the container at its first output, or this long after it started. Default 3 s. */
  preemptAfterMs?: number;
}

interface JobRecord {
  job: CustomJob;
  /** projects/<number>/locations/<location> */
  parent: string;
  createdMs: number;
  quotaKey: string;
  units: number;
  fault?: Fault;
  child?: ChildProcess;
  /** Why the service is ending the container, when it is. */
  ending?: 'cancel' | 'timeout' | 'preempt';
  lastStderrLine: string;
  timers: Set<NodeJS.Timeout>;
  transitions: JobState[];
  log?: WriteStream;
}

interface PendingFault {
  fault: Fault;
  /** Only a job whose display name contains this; any job when unset. */
  match?: string;
  remaining: number;
}

interface Violation {
  field: string;
  description: string;
}

/** A stable 12-digit project number for a project id: Vertex AI names resources by project number. */
export function projectNumber(project: string): string {
  if (/^\d+$/.test(project)) return project;
  const hash = createHash('sha256').update(project).digest();
  return String(100_000_000_000 + (hash.readUInt32BE(0) % 900_000_000_000));
}

function timestamp(ms: number): { seconds: string; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: Math.round((ms - seconds * 1000) * 1000) * 1000 };
}

const durationMs = (d: { seconds?: unknown; nanos?: unknown } | null | undefined) =>
  d ? Number(d.seconds ?? 0) * 1000 + Number(d.nanos ?? 0) / 1e6 : undefined;

/** Microsecond wall-clock time, so that jobs created in the same millisecond still order by createTime. */
const now = () => Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000;

export class JobService {
  private readonly jobs = new Map<string, JobRecord>();
  private readonly quota: Record<string, number>;
  private readonly faults: PendingFault[] = [];
  private lastId = 0n;
  private stopped = false;
  private readonly children = new Set<ChildProcess>();
  /** A process that exits without stop() leaves no container behind. */
  private readonly killChildren = () => {
    for (const child of this.children) child.kill('SIGKILL');
  };

  constructor(private readonly options: JobServiceOptions = {}) {
    this.quota = { ...DEFAULT_QUOTA };
    this.setQuota(options.quota ?? {});
    if (options.stateDir) mkdirSync(options.stateDir, { recursive: true });
    process.on('exit', this.killChildren);
  }

  private get stepMs() {
    return this.options.stepMs ?? 300;
  }

  /** POST .../customJobs */
  create(project: string, location: string, job: CustomJob): CustomJob {
    if (this.stopped) throw new ApiError(503, 'UNAVAILABLE', 'The service is shutting down.');
    const parent = `projects/${projectNumber(project)}/locations/${location}`;
    const { quotaKey, units, fault } = this.validate(job);
    this.checkQuota(quotaKey, units);

    // 19-digit ids that only grow, like Vertex AI's.
    const candidate = BigInt(Date.now()) * 1_000_000n;
    this.lastId = candidate > this.lastId ? candidate : this.lastId + 1n;
    const name = `${parent}/customJobs/${this.lastId}`;
    const createdMs = now();
    const record: JobRecord = {
      job: {
        ...job,
        name,
        state: 'JOB_STATE_QUEUED',
        createTime: timestamp(createdMs),
        updateTime: timestamp(createdMs),
      },
      parent,
      createdMs,
      quotaKey,
      units,
      fault: fault ?? this.takeFault(job.displayName ?? ''),
      lastStderrLine: '',
      timers: new Set(),
      transitions: ['JOB_STATE_QUEUED'],
    };
    this.jobs.set(name, record);
    this.snapshot();
    this.after(record, this.stepMs, () => this.provision(record));
    return structuredClone(record.job);
  }

  /** GET .../customJobs/{id} */
  get(project: string, location: string, id: string): CustomJob {
    return structuredClone(this.find(project, location, id).job);
  }

  /** GET .../customJobs?filter=&pageSize=&pageToken= ; oldest first. */
  list(
    project: string,
    location: string,
    filter: string,
    pageSize: number,
    pageToken: string,
  ): { jobs: CustomJob[]; nextPageToken: string } {
    const parent = `projects/${projectNumber(project)}/locations/${location}`;
    let matches: (job: FilterableJob) => boolean = () => true;
    if (filter.trim()) {
      try {
        matches = parseFilter(filter);
      } catch (error) {
        if (error instanceof FilterError)
          throw new ApiError(
            400,
            'INVALID_ARGUMENT',
            `Invalid filter ${JSON.stringify(filter)}: ${error.message}`,
          );
        throw error;
      }
    }
    const offset = pageToken ? Number(Buffer.from(pageToken, 'base64url').toString()) : 0;
    if (!Number.isInteger(offset) || offset < 0)
      throw new ApiError(400, 'INVALID_ARGUMENT', `Invalid page token ${JSON.stringify(pageToken)}.`);
    const size = pageSize > 0 ? Math.min(pageSize, 1000) : 100;
    const all = [...this.jobs.values()]
      .filter((r) => r.parent === parent)
      .filter((r) =>
        matches({
          displayName: r.job.displayName ?? '',
          state: r.job.state as JobState,
          labels: (r.job.labels ?? {}) as Record<string, string>,
          createTime: Math.floor(r.createdMs),
        }),
      );
    const page = all.slice(offset, offset + size).map((r) => structuredClone(r.job));
    const next = offset + size < all.length ? Buffer.from(String(offset + size)).toString('base64url') : '';
    return { jobs: page, nextPageToken: next };
  }

  /** POST .../customJobs/{id}:cancel. Asynchronous, as in Vertex AI: CANCELLING now, CANCELLED when it has stopped. */
  cancel(project: string, location: string, id: string): void {
    const record = this.find(project, location, id);
    const state = record.job.state as JobState;
    if (state === 'JOB_STATE_CANCELLING') return;
    if (FINAL_STATES.includes(state)) {
      throw new ApiError(
        400,
        'FAILED_PRECONDITION',
        `Cannot cancel CustomJob "${record.job.name}" because it is in state ${state}.`,
      );
    }
    this.clearTimers(record);
    this.setState(record, 'JOB_STATE_CANCELLING');
    if (record.child) {
      record.ending = 'cancel';
      this.terminate(record);
    } else {
      this.after(record, this.stepMs, () => this.finishCancelled(record));
    }
  }

  /** Limits and use per accelerator type. */
  quotaUsage(): Record<string, { metric: string; limit: number; used: number }> {
    const keys = new Set([...Object.keys(this.quota), ...[...this.jobs.values()].map((r) => r.quotaKey)]);
    return Object.fromEntries(
      [...keys].map((k) => [k, { metric: quotaFor(k), limit: this.quota[k] ?? 0, used: this.used(k) }]),
    );
  }

  setQuota(limits: Record<string, number>): void {
    for (const [type, limit] of Object.entries(limits)) {
      if (!QUOTA_METRICS[type])
        throw new ApiError(400, 'INVALID_ARGUMENT', `Unknown accelerator type "${type}" in the quota.`);
      if (!Number.isInteger(limit) || limit < 0)
        throw new ApiError(400, 'INVALID_ARGUMENT', `The quota for ${type} must be a whole number >= 0.`);
    }
    Object.assign(this.quota, limits);
  }

  /** The next `times` jobs (whose display name contains `match`, when given) get `fault`. */
  injectFault(fault: string, match?: string, times = 1): void {
    if (!(FAULTS as readonly string[]).includes(fault))
      throw new ApiError(400, 'INVALID_ARGUMENT', `Unknown fault "${fault}"; one of ${FAULTS.join(', ')}.`);
    if (!Number.isInteger(times) || times < 1)
      throw new ApiError(400, 'INVALID_ARGUMENT', 'times must be a whole number >= 1.');
    this.faults.push({ fault: fault as Fault, match, remaining: times });
  }

  pendingFaults(): PendingFault[] {
    return structuredClone(this.faults);
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Every state a job has been in, in order (not part of the API: for tests and the admin endpoint). */
  transitions(name: string): JobState[] {
    const record = this.jobs.get(name);
    if (!record) throw new ApiError(404, 'NOT_FOUND', `CustomJob "${name}" is not found.`);
    return [...record.transitions];
  }

  /** Ends every container (SIGTERM, then SIGKILL) and waits for them; later creates are refused. */
  async stop(): Promise<void> {
    this.stopped = true;
    const exits: Promise<unknown>[] = [];
    for (const record of this.jobs.values()) {
      this.clearTimers(record);
      const child = record.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) continue;
      exits.push(new Promise((resolve) => child.once('exit', resolve)));
      record.ending ??= 'cancel';
      this.terminate(record);
    }
    await Promise.all(exits);
    process.off('exit', this.killChildren);
  }

  private find(project: string, location: string, id: string): JobRecord {
    const name = `projects/${projectNumber(project)}/locations/${location}/customJobs/${id}`;
    const record = this.jobs.get(name);
    if (!record) throw new ApiError(404, 'NOT_FOUND', `CustomJob "${name}" is not found.`);
    return record;
  }

  private validate(job: CustomJob): { quotaKey: string; units: number; fault?: Fault } {
    const violations: Violation[] = [];
    const bad = (field: string, description: string) => violations.push({ field, description });
    if (!job.displayName) bad('custom_job.display_name', 'Required field is not set.');
    else if (job.displayName.length > 128) bad('custom_job.display_name', 'Must be at most 128 characters.');

    const labels = Object.entries(job.labels ?? {});
    if (labels.length > 64) bad('custom_job.labels', 'At most 64 labels are allowed.');
    for (const [key, value] of labels) {
      if (!/^[a-z][a-z0-9_-]{0,62}$/.test(key))
        bad(
          `custom_job.labels[${key}]`,
          'A label key must start with a lower-case letter and have at most 63 ' +
            'lower-case letters, digits, "_" or "-".',
        );
      if (!/^[a-z0-9_-]{0,63}$/.test(String(value)))
        bad(
          `custom_job.labels[${key}]`,
          'A label value must have at most 63 lower-case letters, digits, "_" or "-".',
        );
    }
    const faultLabel = job.labels?.[FAULT_LABEL];
    if (faultLabel !== undefined && !(FAULTS as readonly string[]).includes(faultLabel))
      bad(`custom_job.labels[${FAULT_LABEL}]`, `Unknown fault "${faultLabel}"; one of ${FAULTS.join(', ')}.`);

    const pools = job.jobSpec?.workerPoolSpecs ?? [];
    if (!job.jobSpec) bad('custom_job.job_spec', 'Required field is not set.');
    else if (pools.length === 0) bad('custom_job.job_spec.worker_pool_specs', 'Required field is not set.');
    else if (pools.length > 1)
      bad(
        'custom_job.job_spec.worker_pool_specs',
        `This local service runs one worker pool; got ${pools.length}.`,
      );

    let quotaKey = 'NONE';
    let units = 0;
    const pool = pools[0];
    if (pool) {
      const at = 'custom_job.job_spec.worker_pool_specs[0]';
      const replicas = Number(pool.replicaCount ?? 0);
      if (replicas !== 1) bad(`${at}.replica_count`, 'The first worker pool must have exactly 1 replica.');
      const machine = pool.machineSpec;
      if (!machine?.machineType) bad(`${at}.machine_spec.machine_type`, 'Required field is not set.');
      const accelerator = String(machine?.acceleratorType ?? 'ACCELERATOR_TYPE_UNSPECIFIED');
      const count = Number(machine?.acceleratorCount ?? 0);
      if (accelerator === 'ACCELERATOR_TYPE_UNSPECIFIED') {
        if (count > 0) bad(`${at}.machine_spec.accelerator_type`, 'Required when accelerator_count is set.');
        units = Number(/-(\d+)$/.exec(machine?.machineType ?? '')?.[1] ?? 1);
      } else if (!QUOTA_METRICS[accelerator]) {
        bad(`${at}.machine_spec.accelerator_type`, `${accelerator} is not offered by this local service.`);
      } else if (count < 1) {
        bad(`${at}.machine_spec.accelerator_count`, 'Must be at least 1 when accelerator_type is set.');
      } else {
        quotaKey = accelerator;
        units = count;
      }
      if (pool.pythonPackageSpec)
        bad(`${at}.python_package_spec`, 'This local service runs containers only: use container_spec.');
      else if (!pool.containerSpec) bad(`${at}.container_spec`, 'Required field is not set.');
      else {
        if (!pool.containerSpec.imageUri) bad(`${at}.container_spec.image_uri`, 'Required field is not set.');
        for (const [i, e] of (pool.containerSpec.env ?? []).entries()) {
          if (!e.name || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.name))
            bad(`${at}.container_spec.env[${i}].name`, `"${e.name ?? ''}" is not a valid variable name.`);
        }
      }
    }
    const timeoutMs = durationMs(job.jobSpec?.scheduling?.timeout);
    if (timeoutMs !== undefined && timeoutMs <= 0)
      bad('custom_job.job_spec.scheduling.timeout', 'Must be a positive duration.');

    if (violations.length) {
      const list = violations
        .map((v, i) => `${i + 1}.Field: ${v.field}; Message: ${v.description}\t`)
        .join('');
      throw new ApiError(400, 'INVALID_ARGUMENT', `List of found errors:\t${list}`);
    }
    return { quotaKey, units, fault: faultLabel as Fault | undefined };
  }

  private used(quotaKey: string): number {
    let used = 0;
    for (const r of this.jobs.values())
      if (r.quotaKey === quotaKey && LIVE_STATES.includes(r.job.state as JobState)) used += r.units;
    return used;
  }

  private checkQuota(quotaKey: string, units: number): void {
    const limit = this.quota[quotaKey] ?? 0;
    if (this.used(quotaKey) + units > limit) {
      throw new ApiError(
        429,
        'RESOURCE_EXHAUSTED',
        `The following quota metrics exceed quota limits: aiplatform.googleapis.com/${QUOTA_METRICS[quotaKey]}`,
      );
    }
  }

  private takeFault(displayName: string): Fault | undefined {
    const index = this.faults.findIndex((f) => !f.match || displayName.includes(f.match));
    if (index < 0) return undefined;
    const pending = this.faults[index]!;
    if (--pending.remaining === 0) this.faults.splice(index, 1);
    return pending.fault;
  }

  private after(record: JobRecord, ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      record.timers.delete(timer);
      action();
    }, ms);
    timer.unref();
    record.timers.add(timer);
  }

  private clearTimers(record: JobRecord): void {
    for (const t of record.timers) clearTimeout(t);
    record.timers.clear();
  }

  private setState(record: JobRecord, state: JobState, error?: { code: number; message: string }): void {
    const at = timestamp(now());
    record.job.state = state;
    record.job.updateTime = at;
    if (state === 'JOB_STATE_RUNNING' && !record.job.startTime) record.job.startTime = at;
    if (FINAL_STATES.includes(state)) {
      record.job.endTime = at;
      if (error) record.job.error = error;
      record.log?.end();
    }
    record.transitions.push(state);
    this.snapshot();
  }

  /** QUEUED -> PENDING: a machine is being found and the image pulled. */
  private provision(record: JobRecord): void {
    this.setState(record, 'JOB_STATE_PENDING');
    this.after(record, Math.max(this.stepMs, this.options.pendingMs ?? 0), () => {
      if (record.fault === 'stockout') {
        const region = record.parent.split('/').pop();
        this.setState(record, 'JOB_STATE_FAILED', {
          code: RPC_CODE.RESOURCE_EXHAUSTED,
          message: `Resources are insufficient in region: ${region}. Please try a different region.`,
        });
        return;
      }
      if (record.fault === 'image-pull') {
        const image = record.job.jobSpec?.workerPoolSpecs?.[0]?.containerSpec?.imageUri;
        this.setState(record, 'JOB_STATE_FAILED', {
          code: RPC_CODE.NOT_FOUND,
          message:
            `Unable to pull the image ${image} for replica ${REPLICA}: image not found. Check that the image exists ` +
            'and that the Vertex AI Service Agent can read it.',
        });
        return;
      }
      this.run(record);
    });
  }

  /** PENDING -> RUNNING: the container starts; its timeout runs from now. */
  private run(record: JobRecord): void {
    const timeoutMs = durationMs(record.job.jobSpec?.scheduling?.timeout) ?? DEFAULT_TIMEOUT_MS;
    this.after(record, timeoutMs, () => this.timeOut(record));
    if (record.fault === 'hang') {
      // A container that never ends: no process to wait for, only cancel or the timeout end it.
      this.setState(record, 'JOB_STATE_RUNNING');
      return;
    }
    const container = record.job.jobSpec!.workerPoolSpecs![0]!.containerSpec!;
    const [command, ...leading] = container.command?.length
      ? container.command
      : (this.options.entrypoint ?? TRAINER_ENTRYPOINT);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/',
      // A real job has its machine to itself; here the containers share this one's cores, so each trains on one
      // thread unless the image's or the job's environment says otherwise.
      TRENDCAST_TRAINER_THREADS: '1',
      ...this.options.env,
      ...Object.fromEntries((container.env ?? []).map((e) => [e.name!, e.value ?? ''])),
    };
    const id = record.job.name!.split('/').pop()!;
    if (this.options.stateDir) record.log = createWriteStream(join(this.options.stateDir, `${id}.log`));
    // Not detached: the container stays in the service's session, so whatever ends that session (the emulator
    // harness's guard) ends the containers too.
    const child = spawn(command!, [...leading, ...(container.args ?? [])], {
      cwd: this.options.workdir ?? REPO,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    record.child = child;
    this.setState(record, 'JOB_STATE_RUNNING');

    if (record.fault === 'preempt') {
      const preempt = () => {
        if (record.child !== child || record.ending) return;
        record.ending = 'preempt';
        this.signal(child, 'SIGKILL');
      };
      child.stdout.once('data', preempt);
      child.stderr.once('data', preempt);
      this.after(record, this.options.preemptAfterMs ?? 3000, preempt);
    }
    let partial = '';
    child.stdout.on('data', (chunk: Buffer) => record.log?.write(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      record.log?.write(chunk);
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      const last = lines.filter((l) => l.trim()).pop();
      if (last) record.lastStderrLine = last.trim();
    });
    child.on('error', (error) => {
      record.lastStderrLine = `cannot start ${command}: ${error.message}`;
    });
    child.on('close', (code, signal) => {
      if (partial.trim()) record.lastStderrLine = partial.trim();
      this.exited(record, code, signal);
    });
  }

  private exited(record: JobRecord, code: number | null, signal: NodeJS.Signals | null): void {
    this.clearTimers(record);
    record.child = undefined;
    if (record.ending === 'cancel') this.finishCancelled(record);
    else if (record.ending === 'timeout') this.finishTimedOut(record);
    else if (record.ending === 'preempt') {
      this.setState(record, 'JOB_STATE_FAILED', {
        code: RPC_CODE.UNAVAILABLE,
        message:
          `The replica ${REPLICA} was preempted: its VM was reclaimed by Compute Engine during training. ` +
          'The job did not finish.',
      });
    } else if (code === 0) this.setState(record, 'JOB_STATE_SUCCEEDED');
    else {
      // A container killed by a signal exits with 128 + the signal's number, and one whose command cannot be
      // started with 127 (Node reports a negative errno), as a shell reports them.
      const status = code === null ? 128 + (signal ? constants.signals[signal] : 0) : code < 0 ? 127 : code;
      const tail = record.lastStderrLine ? ` ${record.lastStderrLine}` : '';
      this.setState(record, 'JOB_STATE_FAILED', {
        code: RPC_CODE.INVALID_ARGUMENT,
        message: `The replica ${REPLICA} exited with a non-zero status of ${status}. Termination reason: Error.${tail}`,
      });
    }
  }

  private timeOut(record: JobRecord): void {
    if (record.child) {
      record.ending = 'timeout';
      this.terminate(record);
    } else {
      this.finishTimedOut(record);
    }
  }

  private finishTimedOut(record: JobRecord): void {
    const timeoutMs = durationMs(record.job.jobSpec?.scheduling?.timeout) ?? DEFAULT_TIMEOUT_MS;
    this.setState(record, 'JOB_STATE_FAILED', {
      code: RPC_CODE.DEADLINE_EXCEEDED,
      message:
        `The job exceeded its maximum running time of ${timeoutMs / 1000}s (job_spec.scheduling.timeout) ` +
        'and was stopped.',
    });
  }

  private finishCancelled(record: JobRecord): void {
    this.setState(record, 'JOB_STATE_CANCELLED', {
      code: RPC_CODE.CANCELLED,
      message: `CustomJob ${record.job.name} was cancelled.`,
    });
  }

  /** SIGTERM the container, SIGKILL after the grace period. */
  private terminate(record: JobRecord): void {
    const child = record.child;
    if (!child) return;
    this.signal(child, 'SIGTERM');
    const kill = setTimeout(() => this.signal(child, 'SIGKILL'), this.options.killGraceMs ?? 5000);
    kill.unref();
    child.once('exit', () => clearTimeout(kill));
  }

  private signal(child: ChildProcess, signal: NodeJS.Signals): void {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  }

  private snapshot(): void {
    if (!this.options.stateDir) return;
    const jobs = [...this.jobs.values()].map((r) => ({
      ...r.job,
      transitions: r.transitions,
      fault: r.fault,
    }));
    writeFileSync(join(this.options.stateDir, 'jobs.json'), `${JSON.stringify(jobs, null, 2)}\n`);
  }
}
