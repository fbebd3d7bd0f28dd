// `npm run deploy` runs this first: one line per runtime or base image within 180 days of its end of support, and a
// refusal (exit 2) when one is past it, naming the part, the date and the page the date comes from.
import { fileURLToPath } from 'node:url';
import { SUPPORT_TABLE, type SupportedPart } from './runtimes.ts';

/** Warn this many days before a part's end of support. */
export const WARN_DAYS = 180;

export interface SupportProblem {
  part: SupportedPart;
  daysLeft: number;
  level: 'warning' | 'error';
}

const DAY_MS = 86_400_000;

/** The parts past their date (errors) or within WARN_DAYS of it (warnings), on `today` (YYYY-MM-DD, UTC). */
export function supportProblems(table: readonly SupportedPart[], today: string): SupportProblem[] {
  const now = Date.parse(`${today}T00:00:00Z`);
  return table.flatMap((part): SupportProblem[] => {
    const daysLeft = Math.round((Date.parse(`${part.endOfSupport}T00:00:00Z`) - now) / DAY_MS);
    if (daysLeft < 0) return [{ part, daysLeft, level: 'error' }];
    if (daysLeft <= WARN_DAYS) return [{ part, daysLeft, level: 'warning' }];
    return [];
  });
}

export function describeProblem({ part, daysLeft, level }: SupportProblem): string {
  const what = `${part.kind === 'image' ? 'base image' : 'runtime'} ${part.name}`;
  return level === 'error'
    ? `error: ${what} reached its end of support on ${part.endOfSupport} (${part.source}): move to a supported one in cdktf/runtimes.ts and where it is used`
    : `warning: ${what} ends its support on ${part.endOfSupport}, in ${daysLeft} days (${part.source})`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const problems = supportProblems(SUPPORT_TABLE, new Date().toISOString().slice(0, 10));
  for (const problem of problems) console.error(describeProblem(problem));
  if (problems.some((p) => p.level === 'error')) process.exit(2);
}
