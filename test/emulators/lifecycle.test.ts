// No emulator process outlives the harness: on Ctrl-C, on an uncaught error, and even when the harness is SIGKILLed
// (no exit hook can run then; the guard shell around each emulator ends its session).
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { emulatorSkipReason, sessionPids } from '../../emulators/harness.ts';

const skip = emulatorSkipReason();
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Starts a harness in a child process; resolves once it prints its sessions. */
async function startHarness(
  args: string[],
): Promise<{ child: ChildProcess; sessions: number[]; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let output = '';
  const sessions = await new Promise<number[]>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /emulators ready \(sessions ([\d,]+)\)/.exec(output);
      if (match) resolve(match[1]!.split(',').map(Number));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(() => reject(new Error(`harness exited before it was ready:\n${output}`)));
  });
  return { child, sessions, exited };
}

async function allGone(sessions: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let left = sessions.flatMap((sid) => sessionPids(sid));
  while (left.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    left = sessions.flatMap((sid) => sessionPids(sid));
  }
  return left;
}

describe.skipIf(skip)('emulator processes never outlive the harness', () => {
  it('Ctrl-C (SIGINT) on `npm run emulators` stops every emulator', async () => {
    const harness = await startHarness(['emulators/main.ts', 'serve']);
    expect(harness.sessions).toHaveLength(3);
    expect(harness.sessions.every((sid) => sessionPids(sid).length > 0)).toBe(true);
    harness.child.kill('SIGINT');
    expect(await harness.exited).toBe(130);
    expect(await allGone(harness.sessions, 5000)).toEqual([]);
  });

  it('an uncaught error in the harness process stops every emulator', async () => {
    const script = [
      "import { Emulators } from './emulators/harness.ts';",
      'const e = await Emulators.start();',
      "console.log('emulators ready (sessions ' + e.sessions.join(',') + ')');",
      "setTimeout(() => { throw new Error('a test failed hard'); }, 200);",
    ].join('\n');
    const harness = await startHarness(['--input-type=module', '-e', script]);
    expect(await harness.exited).not.toBe(0);
    expect(await allGone(harness.sessions, 5000)).toEqual([]);
  });

  it('SIGKILL of the harness: the guards end the emulators within seconds', async () => {
    const harness = await startHarness(['emulators/main.ts', 'serve']);
    harness.child.kill('SIGKILL');
    await harness.exited;
    expect(await allGone(harness.sessions, 15_000)).toEqual([]);
  });
});
