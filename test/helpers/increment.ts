// Child process for the document-store test: `increment.ts <root> <times>` adds 1 to counters/c `times` times.
import { LocalDocumentStore } from '../../adapters/local/document-store.ts';

const [root, times] = process.argv.slice(2);
const docs = new LocalDocumentStore(root!);
for (let i = 0; i < Number(times); i++) {
  await docs.runTransaction(async (tx) => {
    const doc = await tx.get('counters/c');
    tx.set('counters/c', { n: Number(doc?.n ?? 0) + 1 });
  });
}
