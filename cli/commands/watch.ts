import type { Command } from 'commander';
import { createLogger } from '../../adapters/log.ts';
import { isForecastCsv, isIncomingCsv, PATHS } from '../../shared/names.ts';
import { createEmbedded } from '../embedded.ts';

const POLL_MS = 2000;

/** Keeps running and ingests every CSV that appears (or changes) in the local bucket's `incoming/` or `forecast/`. */
export function registerWatch(program: Command): void {
  program
    .command('watch')
    .description(
      "process every CSV that appears in the local bucket's incoming/ (train) or forecast/ (forecast only) folder (Ctrl-C stops)",
    )
    .option('--home <dir>', 'state folder', '.trendcast')
    .option('--max-jobs <n>', 'trainer processes at once (default: one per CPU core)')
    .action(async (options: { home: string; maxJobs?: string }) => {
      const log = createLogger({}, { json: false, quiet: true });
      const embedded = createEmbedded({
        home: options.home,
        log,
        ...(options.maxJobs ? { maxJobs: Number(options.maxJobs) } : {}),
      });
      embedded.startSweeper();
      process.once('SIGINT', () => {
        void embedded.jobs.stop().then(() => process.exit(130));
      });
      log.info(
        `watching ${embedded.store.root}/${PATHS.incomingPrefix} and ${PATHS.forecastPrefix} (Ctrl-C stops)`,
      );
      // Polling rather than fs.watch: it behaves the same on every OS and on network folders.
      const seen = new Set<string>();
      while (true) {
        const keys = [
          ...(await embedded.store.list(PATHS.incomingPrefix)),
          ...(await embedded.store.list(PATHS.forecastPrefix)),
        ];
        for (const key of keys) {
          if (!isIncomingCsv(key) && !isForecastCsv(key)) continue;
          const stamp = `${key}:${(await embedded.store.read(key)).length}`;
          if (seen.has(stamp)) continue;
          seen.add(stamp);
          const event = await embedded.finalize(key);
          log.info(`new upload ${key} (generation ${event.data!.generation})`);
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    });
}
