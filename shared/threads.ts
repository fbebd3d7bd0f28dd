/**
 * How many threads a trainer gets: `running` trainers share `cores` cores evenly, each gets at least one and at
 * most `cap` (TRENDCAST_TRAINER_THREADS, see trainerThreadCap). So the last trial of a run, once its siblings have
 * ended, gets every core.
 */
export function threadShare(cores: number, running: number, cap: number): number {
  return Math.max(1, Math.min(cap, Math.floor(cores / Math.max(1, running))));
}

/** The most threads one trainer uses: the TRENDCAST_TRAINER_THREADS setting, where 0 means every core. */
export function trainerThreadCap(setting: number, cores: number): number {
  return setting > 0 ? setting : Math.max(1, cores);
}
