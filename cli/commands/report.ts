import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { LocalDocumentStore } from '../../adapters/local/document-store.ts';
import { LocalObjectStore } from '../../adapters/local/object-store.ts';
import { createLogger } from '../../adapters/log.ts';
import { writeRunReport } from '../../functions/report.ts';
import { FINAL_RUN_STATUSES, type RunDoc } from '../../shared/documents.ts';
import { InputError } from '../../shared/errors.ts';
import { REPORT } from '../../shared/names.ts';
import { readRuns } from '../../shared/records.ts';
import { reportLocation } from '../format.ts';

type ReportOptions = { out?: string; open?: boolean; home: string };

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

/** The report of a run of the local home (the newest by default): written to the bucket when missing, returned as HTML. */
export async function reportOf(
  home: string,
  runId?: string,
): Promise<{ run: RunDoc; html: string; file: string }> {
  const root = resolve(home);
  const docs = new LocalDocumentStore(join(root, 'firestore'));
  const store = new LocalObjectStore(join(root, 'bucket'));
  const runs = await readRuns(docs);
  const run = runId
    ? runs.find((r) => r.runId === runId)
    : runs.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
  if (!run) throw new InputError(runId ? `no run ${runId} in ${root}` : `no runs in ${root} yet`);
  if (!FINAL_RUN_STATUSES.has(run.status))
    throw new InputError(
      `run ${run.runId} has not ended (status ${run.status}); its report comes when it does`,
    );
  const deps = { store, docs, log: createLogger({}, { json: false, quiet: true, write: () => {} }) };
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
    .description('write or open the HTML report of a run (the newest by default)')
    .argument('[runId]', 'the run (default: the newest)')
    .option('--out <file.html>', 'also write the report to this file')
    .option('--open', "open it with the system's browser")
    .option('--home <dir>', 'state folder', '.trendcast')
    .action(async (runId: string | undefined, options: ReportOptions) => {
      const report = await reportOf(options.home, runId);
      let file = report.file;
      if (options.out) {
        file = resolve(options.out);
        await writeFile(file, report.html).catch((e: Error) => {
          throw new InputError(`--out ${options.out}: cannot write the file (${e.message})`);
        });
      }
      process.stdout.write(`report of ${report.run.runId} (${report.run.status}): ${file}\n`);
      if (options.open && !(await openFile(file))) {
        process.stdout.write(`no ${opener(file)[0]} on this machine to open it; open ${file} in a browser\n`);
      }
    });
}
