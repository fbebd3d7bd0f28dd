// A local stand-in for the part of the Vertex AI REST API v1 that trendcast uses (Google ships no Vertex AI emulator):
// create, get, list (with filter) and cancel CustomJob, answering as the real API does (resource names with the
// project number, RFC 3339 timestamps, JobState names or numbers, {error: {code, message, status}} bodies), plus a few
// /admin endpoints for tests: quota, faults, a job's state history.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError, JobService, type JobServiceOptions } from './jobs.ts';
import { readCustomJob, writeCustomJob, writeListResponse } from './protos.ts';

export interface VertexAiServiceOptions extends JobServiceOptions {
  /** Default 0: any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
}

export interface VertexAiService {
  /** `http://host:port`: what TRENDCAST_VERTEX_ENDPOINT takes. */
  endpoint: string;
  port: number;
  jobs: JobService;
  /** Ends every running container, then closes the server. */
  stop(): Promise<void>;
}

const JOBS = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/customJobs$/;
const JOB = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/customJobs\/([^/:]+)(:cancel)?$/;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(text);
}

function sendError(res: ServerResponse, error: ApiError): void {
  send(res, error.httpStatus, {
    error: { code: error.httpStatus, message: error.message, status: error.status },
  });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, 'INVALID_ARGUMENT', `Invalid JSON payload received. ${(error as Error).message}`);
  }
}

const bad = (message: string) => new ApiError(400, 'INVALID_ARGUMENT', message);

async function route(jobs: JobService, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = decodeURIComponent(url.pathname);
  // The REST transport asks for `$alt=json;enum-encoding=int`: enums as numbers, both ways.
  const numericEnums = (url.searchParams.get('$alt') ?? '').includes('enum-encoding=int');
  const method = req.method ?? 'GET';

  const collection = JOBS.exec(path);
  if (collection) {
    const [, project, location] = collection as unknown as [string, string, string];
    if (method === 'POST') {
      let job: ReturnType<typeof readCustomJob>;
      try {
        job = readCustomJob(await readJson(req));
      } catch (error) {
        if (error instanceof ApiError) throw error;
        throw bad(`Invalid JSON payload received. ${(error as Error).message}`);
      }
      return send(res, 200, writeCustomJob(jobs.create(project, location, job), numericEnums));
    }
    if (method === 'GET') {
      const pageSize = Number(url.searchParams.get('pageSize') ?? 0);
      if (!Number.isInteger(pageSize) || pageSize < 0) throw bad('pageSize must be a whole number >= 0.');
      const { jobs: page, nextPageToken } = jobs.list(
        project,
        location,
        url.searchParams.get('filter') ?? '',
        pageSize,
        url.searchParams.get('pageToken') ?? '',
      );
      return send(res, 200, writeListResponse(page, nextPageToken, numericEnums));
    }
  }
  const single = JOB.exec(path);
  if (single) {
    const [, project, location, id, cancel] = single as unknown as [string, string, string, string, string?];
    if (cancel && method === 'POST') {
      await readJson(req);
      jobs.cancel(project, location, id);
      return send(res, 200, {});
    }
    if (!cancel && method === 'GET')
      return send(res, 200, writeCustomJob(jobs.get(project, location, id), numericEnums));
  }

  if (path === '/' && method === 'GET')
    return send(res, 200, { service: 'trendcast local Vertex AI service' });
  if (path === '/admin/quota') {
    if (method === 'POST') jobs.setQuota((await readJson(req)) as Record<string, number>);
    if (method === 'POST' || method === 'GET') return send(res, 200, jobs.quotaUsage());
  }
  if (path === '/admin/faults') {
    if (method === 'POST') {
      const body = (await readJson(req)) as { fault?: string; match?: string; times?: number };
      jobs.injectFault(String(body.fault), body.match, body.times);
    }
    if (method === 'DELETE') jobs.clearFaults();
    if (['POST', 'GET', 'DELETE'].includes(method)) return send(res, 200, jobs.pendingFaults());
  }
  const transitions = /^\/admin\/transitions\/(.+)$/.exec(path);
  if (transitions && method === 'GET') return send(res, 200, jobs.transitions(transitions[1]!));

  throw new ApiError(404, 'NOT_FOUND', `${method} ${path} is not an API of this local Vertex AI service.`);
}

/** Starts the service in this process. */
export async function startVertexAiService(options: VertexAiServiceOptions = {}): Promise<VertexAiService> {
  const jobs = new JobService(options);
  const server: Server = createServer((req, res) => {
    route(jobs, req, res).catch((error: unknown) => {
      if (error instanceof ApiError) return sendError(res, error);
      sendError(res, new ApiError(500, 'INTERNAL', `Internal error: ${(error as Error).message}`));
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://${host}:${port}`,
    port,
    jobs,
    async stop() {
      await jobs.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
