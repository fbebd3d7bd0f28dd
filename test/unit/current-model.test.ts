// Two promotions of one symbol finishing together: `current.json` must end on the version the model document names.
import { describe, expect, it } from 'vitest';
import { decideRun } from '../../functions/decide.ts';
import { DOCS, PATHS } from '../../shared/names.ts';
import { readModel } from '../../shared/records.ts';
import { localDeps } from '../helpers/deps.ts';
import { metrics, runDoc, trialDoc } from '../helpers/docs.ts';

const POINTER = PATHS.modelCurrent('TEST', '1d');

async function seed(deps: ReturnType<typeof localDeps>, runId: string) {
  await deps.docs.create(DOCS.run(runId), runDoc(runId, ['a']));
  await deps.docs.create(
    DOCS.trial(runId, 'a'),
    trialDoc(runId, 'a', { status: 'succeeded', metrics: metrics({ f1: 0.7 }) }),
  );
  for (const f of ['model.json', 'weights.bin'])
    await deps.store.write(`${PATHS.trial(runId, 'a')}${f}`, `${runId} ${f}`);
}

/** Holds the first call of a store method that `matches` until `release()`; `reached` resolves when it is held. */
function hold<M extends 'write' | 'copy'>(
  store: ReturnType<typeof localDeps>['store'],
  method: M,
  matches: (...args: Parameters<ReturnType<typeof localDeps>['store'][M]>) => boolean,
) {
  const original = store[method].bind(store) as (...a: unknown[]) => Promise<void>;
  let release!: () => void;
  let reached!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const isReached = new Promise<void>((r) => (reached = r));
  let held = false;
  (store as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
    if (!held && (matches as (...a: unknown[]) => boolean)(...args)) {
      held = true;
      reached();
      await released;
    }
    return original(...args);
  };
  return { reached: isReached, release };
}

async function expectAgreement(deps: ReturnType<typeof localDeps>, version: number, runId: string) {
  const model = (await readModel(deps.docs, 'TEST', '1d'))!;
  expect(model.current).toMatchObject({ version, runId });
  const pointer = JSON.parse((await deps.store.read(POINTER)).toString('utf8'));
  expect(pointer).toEqual(model.current);
  expect((await deps.store.read(`${PATHS.modelVersion('TEST', '1d', version)}model.json`)).toString()).toBe(
    `${runId} model.json`,
  );
}

describe('the current model under two promotions finishing together', () => {
  it("the older promotion's pointer write lands last: the pointer still ends on the newer version", async () => {
    const deps = localDeps({ prefix: 'current-' });
    await seed(deps, 'run-old');
    await seed(deps, 'run-new');
    // The older promotion has committed v1 and read it back; its pointer write waits while v2 is promoted whole.
    const gate = hold(
      deps.store,
      'write',
      (key, data) => key === POINTER && String(data).includes('"version": 1'),
    );
    const older = decideRun('run-old', deps);
    await gate.reached;
    await decideRun('run-new', deps);
    expect(JSON.parse((await deps.store.read(POINTER)).toString()).version).toBe(2);
    gate.release();
    await older;
    await expectAgreement(deps, 2, 'run-new');
  });

  it('the newer promotion finishes first while the older one is still copying its files: same end', async () => {
    const deps = localDeps({ prefix: 'current-' });
    await seed(deps, 'run-old');
    await seed(deps, 'run-new');
    // v1 is reserved and copying; v2 is reserved, committed and pointed at before v1's transaction runs.
    const gate = hold(deps.store, 'copy', (from) => from.startsWith(PATHS.trial('run-old', 'a')));
    const older = decideRun('run-old', deps);
    await gate.reached;
    await decideRun('run-new', deps);
    gate.release();
    await older;
    await expectAgreement(deps, 2, 'run-new');
    expect((await readModel(deps.docs, 'TEST', '1d'))!.history.map((h) => h.version)).toEqual([1, 2]);
  });

  it('a promoted run whose pointer was never written gets it on the next decideRun (a crashed finisher)', async () => {
    const deps = localDeps({ prefix: 'current-' });
    await seed(deps, 'run-old');
    const write = deps.store.write.bind(deps.store);
    deps.store.write = async (key, data) => {
      if (key === POINTER) throw new Error('503 backend error');
      return write(key, data);
    };
    await expect(decideRun('run-old', deps)).rejects.toThrow(/503/);
    expect(await deps.store.exists(POINTER)).toBe(false);
    deps.store.write = write;
    await decideRun('run-old', deps);
    await expectAgreement(deps, 1, 'run-old');
  });
});
