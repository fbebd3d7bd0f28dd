// `npm run vertex-ai -- [--port N] [--quota NVIDIA_TESLA_T4=1,NONE=32] [--state-dir DIR] [--env K=V ...]`:
// the local Vertex AI service on its own. Prints `listening on <endpoint>` once it serves; SIGINT/SIGTERM end every
// job it started, then the service.
import { Command, InvalidArgumentError } from 'commander';
import { FAULTS } from './jobs.ts';
import { startVertexAiService, type VertexAiService } from './server.ts';

function keyValues(what: string, parse: (value: string, key: string) => string | number) {
  return (text: string, previous: Record<string, string | number> = {}) => {
    const result = { ...previous };
    for (const pair of text.split(',').filter(Boolean)) {
      const eq = pair.indexOf('=');
      if (eq < 1) throw new InvalidArgumentError(`${what}: "${pair}" is not KEY=VALUE`);
      const key = pair.slice(0, eq);
      result[key] = parse(pair.slice(eq + 1), key);
    }
    return result;
  };
}

const program = new Command('vertex-ai')
  .description('a local stand-in for the Vertex AI CustomJob API (Google ships no Vertex AI emulator)')
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option(
    '--port <n>',
    'port (0: any free one)',
    (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535)
        throw new InvalidArgumentError(`--port: "${v}" is not a port`);
      return n;
    },
    0,
  )
  .option(
    '--quota <TYPE=N,...>',
    'limit per accelerator type, NONE counting vCPUs (default NVIDIA_TESLA_T4=1,NONE=32)',
    keyValues('--quota', (v, k) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0)
        throw new InvalidArgumentError(`--quota: ${k}="${v}" is not a whole number`);
      return n;
    }),
  )
  .option('--state-dir <dir>', 'where each job’s output (<job id>.log) and jobs.json go')
  .option(
    '--env <K=V,...>',
    'environment every job’s container starts with (the job’s own env overrides it); repeatable',
    keyValues('--env', (v) => v),
  )
  .option('--step-ms <n>', 'time a job spends in each of QUEUED and PENDING', Number, 300)
  .option('--fault <fault>', `inject a fault into the next job: ${FAULTS.join(', ')}`)
  .parse();

const options = program.opts<{
  host: string;
  port: number;
  quota?: Record<string, number>;
  stateDir?: string;
  env?: Record<string, string>;
  stepMs: number;
  fault?: string;
}>();

let service: VertexAiService;
try {
  service = await startVertexAiService({
    host: options.host,
    port: options.port,
    quota: options.quota,
    stateDir: options.stateDir,
    env: options.env,
    stepMs: options.stepMs,
  });
  if (options.fault) service.jobs.injectFault(options.fault);
} catch (error) {
  process.stderr.write(`error: ${(error as Error).message}\n`);
  process.exit(2);
}
console.log(`listening on ${service.endpoint}`);
console.log(`  quota: ${JSON.stringify(service.jobs.quotaUsage())}`);
console.log(`  point trendcast at it: TRENDCAST_VERTEX_ENDPOINT=${service.endpoint}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    service.stop().then(() => process.exit(0));
  });
}
