import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { LocalDocumentStore } from '../../adapters/local/document-store.ts';
import { LocalObjectStore } from '../../adapters/local/object-store.ts';
import { createLogger } from '../../adapters/log.ts';
import { writeIndexPage } from '../../functions/index-page.ts';
import { writeRunReport } from '../../functions/report.ts';
import { FINAL_RUN_STATUSES, type RunDoc } from '../../shared/documents.ts';
import { InputError } from '../../shared/errors.ts';
import { INDEX_PAGE, REPORT } from '../../shared/names.ts';
import { readRuns } from '../../shared/records.ts';
import { reportLocation } from '../format.ts';

type ReportOptions = { out?: string; open?: boolean; index?: boolean; home: string };

/** The platform's "open this file with its default application" command. */
function opener(file: string): [string, string[]] {
  if (process.platform === 'darwin') return ['open', [file]];
  if (process.platform === 'win32') return ['cmd', ['/c', 'start', '', file]];
  return ['xdg-open', [file]];
}

/** Starts the opener and resolves once it has started; false when there is none on this machine. */
function openFile(file: string): Promise<boolean> {
  const [command, args] = opener(file);
  return new Promise((done) => {
    const child = spawn(command, args, { detached: true, stdio: 'ignore' });
    child.once('error', () => done(false));
    child.once('spawn', () => {
      child.unref();
      done(true);
    });
  });
}

const quiet = () => createLogger({}, { json: false, quiet: true, write: () => {} });

function openHome(home: string) {
  const root = resolve(home);
  return {
    root,
    docs: new LocalDocumentStore(join(root, 'firestore')),
    store: new LocalObjectStore(join(root, 'bucket')),
  };
}

/** The index page of the local home (every symbol's model, forecast, track record and runs), rewritten now. */
export async function indexOf(home: string): Promise<{ html: string; file: string }> {
  const { docs, store } = openHome(home);
  const uri = await writeIndexPage({ store, docs, log: quiet() });
  return { html: (await store.read(INDEX_PAGE)).toString('utf8'), file: reportLocation(uri) };
}

/** The report of a run of the local home (the newest by default): written to the bucket when missing, returned as HTML. */
export async function reportOf(
  home: string,
  runId?: string,
): Promise<{ run: RunDoc; html: string; file: string }> {
  const { root, docs, store } = openHome(home);
  const runs = await readRuns(docs);
  const run = runId
    ? runs.find((r) => r.runId === runId)
    : runs.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
  if (!run) throw new InputError(runId ? `no run ${runId} in ${root}` : `no runs in ${root} yet`);
  if (!FINAL_RUN_STATUSES.has(run.status))
    throw new InputError(
      `run ${run.runId} has not ended (status ${run.status}); its report comes when it does`,
    );
  const deps = { store, docs, log: quiet() };
  await writeRunReport(run.runId, deps);
  const key = REPORT.object(run.runId);
  if (!(await store.exists(key)))
    throw new InputError(`another process is writing the report of run ${run.runId}; try again in a moment`);
  const html = (await store.read(key)).toString('utf8');
  return { run, html, file: reportLocation(store.baseUri + key) };
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write or open the HTML report of a run (the newest by default), or the index page')
    .argument('[runId]', 'the run (default: the newest)')
    .option('--index', "the index page instead: every symbol's model, forecast, track record and runs")
    .option('--out <file.html>', 'also write the report to this file')
    .option('--open', "open it with the system's browser")
    .option('--home <dir>', 'state folder', '.trendcast')
    .action(async (runId: string | undefined, options: ReportOptions) => {
      if (options.index && runId)
        throw new InputError(`--index shows every run; leave out the run id (${runId})`);
      const report = options.index
        ? { ...(await indexOf(options.home)), title: 'index page' }
        : await reportOf(options.home, runId).then((r) => ({
            ...r,
            title: `report of ${r.run.runId} (${r.run.status})`,
          }));
      let file = report.file;
      if (options.out) {
        file = resolve(options.out);
        await writeFile(file, report.html).catch((e: Error) => {
          throw new InputError(`--out ${options.out}: cannot write the file (${e.message})`);
        });
      }
      process.stdout.write(`${report.title}: ${file}\n`);
      if (options.open && !(await openFile(file))) {
        process.stdout.write(`no ${opener(file)[0]} on this machine to open it; open ${file} in a browser\n`);
      }
    });
}
