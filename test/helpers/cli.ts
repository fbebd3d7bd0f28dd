import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../bin/trendcast.js', import.meta.url));
export const REFERENCE_CSV = fileURLToPath(
  new URL('../../samples/Quote-Equity-RELIANCE-EQ-12-11-2024-to-12-11-2025.csv', import.meta.url),
);

/** Runs the real `trendcast` binary; resolves with its exit code and output (never rejects on a non-zero exit). */
export function trendcast(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Runs `npm run emulators -- <args>` (emulators/main.ts) as a user would; resolves when it exits, never rejects. */
export function emulatorsCommand(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string; endedAt: number }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'emulators/main.ts', ...args],
      { cwd: fileURLToPath(new URL('../..', import.meta.url)), maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
          stdout,
          stderr,
          endedAt: Date.now(),
        }),
    );
  });
}
