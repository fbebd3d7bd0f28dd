import { expect } from 'vitest';
import type { DocumentStore } from '../../shared/ports.ts';

/**
 * What the training queue asks of a document store, held the same way for every adapter (local, Firestore):
 * ordered queries with a limit, a filter and a start, inside a transaction too, and deletes in a transaction.
 */
export async function expectOrderedQueriesAndDeletes(docs: DocumentStore): Promise<void> {
  for (const [id, order] of [
    ['e3', 'c'],
    ['e1', 'a'],
    ['e2', 'b'],
  ])
    await docs.set(`queueTest/${id}`, { order });
  expect((await docs.query('queueTest', { orderBy: 'order', limit: 2 })).map((d) => d.id)).toEqual([
    'e1',
    'e2',
  ]);
  const taken = await docs.runTransaction(async (tx) => {
    const head = await tx.query('queueTest', { orderBy: 'order', limit: 1 });
    for (const { id } of head) tx.delete(`queueTest/${id}`);
    tx.delete('queueTest/absent'); // deleting what is not there is no error
    return head.map((d) => d.id);
  });
  expect(taken).toEqual(['e1']);
  expect((await docs.query('queueTest', { orderBy: 'order' })).map((d) => d.id)).toEqual(['e2', 'e3']);
  expect(
    (await docs.query('queueTest', { where: { field: 'order', in: ['c'] }, orderBy: 'order' })).map(
      (d) => d.id,
    ),
  ).toEqual(['e3']);
  // From a value on (inclusive), as the budget reads the runs created since a time.
  expect((await docs.query('queueTest', { orderBy: 'order', startAt: 'b' })).map((d) => d.id)).toEqual([
    'e2',
    'e3',
  ]);
  expect((await docs.query('queueTest', { orderBy: 'order', startAt: 'bb' })).map((d) => d.id)).toEqual([
    'e3',
  ]);
}
