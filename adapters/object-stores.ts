import { fileURLToPath } from 'node:url';
import { InputError } from '../shared/errors.ts';
import type { ObjectStore } from '../shared/ports.ts';
import { LocalObjectStore } from './local/object-store.ts';

/** Splits a folder URI (`file:///abs/dir/x/` or `gs://bucket/x/`) into the store that holds it and the key prefix. */
export async function openFolderUri(uri: string): Promise<{ store: ObjectStore; prefix: string }> {
  if (uri.startsWith('file://')) {
    return { store: new LocalObjectStore(fileURLToPath(uri)), prefix: '' };
  }
  const gs = /^gs:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (gs) {
    const { GcsObjectStore } = await import('./gcp/object-store.ts');
    return { store: new GcsObjectStore(gs[1]!), prefix: gs[2]! };
  }
  throw new InputError(`unsupported URI ${uri}: expected file:// or gs://`);
}
