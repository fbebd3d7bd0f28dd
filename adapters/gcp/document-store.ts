import {
  type DocumentReference,
  FieldPath,
  Firestore,
  type Settings as FirestoreSettings,
  type Transaction as FirestoreTransaction,
  type Query,
  type SetOptions,
} from '@google-cloud/firestore';
import type { DocumentQuery, DocumentStore, Transaction } from '../../shared/ports.ts';

type Doc = Record<string, unknown>;

/** gRPC status ALREADY_EXISTS: `create` on a document that exists. */
const ALREADY_EXISTS = 6;

/**
 * The port's `merge` replaces whole top-level fields (as the local store does); Firestore's own `merge: true` would
 * merge nested maps key by key, so name the top-level fields instead.
 */
const setOptions = (data: Doc, options?: { merge?: boolean }): SetOptions =>
  options?.merge
    ? {
        mergeFields: Object.keys(data)
          .filter((k) => data[k] !== undefined) // dropped by ignoreUndefinedProperties, so not a field to merge
          .map((k) => new FieldPath(k)),
      }
    : {};

/**
 * Firestore in native mode. `FIRESTORE_EMULATOR_HOST` points the client at the emulator.
 * Transactions are Firestore's own, retried by the client on contention, so `fn` may run more than once. The design
 * needs only their serializability, which both concurrency modes give; the database is created OPTIMISTIC (the
 * default is PESSIMISTIC) because every dispatcher reads the same few slot documents: under pessimistic locking those
 * reads take locks that make concurrent dispatchers wait and time out, where optimistic retries only the loser.
 */
export class FirestoreDocumentStore implements DocumentStore {
  readonly firestore: Firestore;

  constructor(firestore?: Firestore | FirestoreSettings) {
    this.firestore =
      firestore instanceof Firestore
        ? firestore
        : new Firestore({ ignoreUndefinedProperties: true, ...(firestore ?? {}) });
  }

  /** Ends the client: no call left running retries against a server that has gone (the emulator at shutdown). */
  async close(): Promise<void> {
    await this.firestore.terminate();
  }

  private doc(path: string): DocumentReference {
    return this.firestore.doc(path);
  }

  async get(path: string): Promise<Doc | undefined> {
    const snapshot = await this.doc(path).get();
    return snapshot.exists ? snapshot.data() : undefined;
  }

  async create(path: string, data: Doc): Promise<boolean> {
    try {
      await this.doc(path).create(data);
      return true;
    } catch (error) {
      if ((error as { code?: number }).code === ALREADY_EXISTS) return false;
      throw error;
    }
  }

  async set(path: string, data: Doc, options?: { merge?: boolean }): Promise<void> {
    await this.doc(path).set(data, setOptions(data, options));
  }

  async list(collection: string): Promise<Array<{ id: string; data: Doc }>> {
    const snapshot = await this.firestore.collection(collection).get();
    return snapshot.docs.map((d) => ({ id: d.id, data: d.data() })).sort((a, b) => cmp(a.id, b.id));
  }

  private toQuery(collection: string, query: DocumentQuery): Query {
    let q: Query = this.firestore.collection(collection);
    if (query.where) q = q.where(query.where.field, 'in', query.where.in);
    q = q.orderBy(query.orderBy);
    if (query.startAt !== undefined) q = q.startAt(query.startAt);
    return query.limit === undefined ? q : q.limit(query.limit);
  }

  async query(collection: string, query: DocumentQuery): Promise<Array<{ id: string; data: Doc }>> {
    const snapshot = await this.toQuery(collection, query).get();
    return snapshot.docs.map((d) => ({ id: d.id, data: d.data() }));
  }

  runTransaction<R>(fn: (tx: Transaction) => Promise<R>): Promise<R> {
    return this.firestore.runTransaction((t) => fn(this.wrap(t)));
  }

  private wrap(t: FirestoreTransaction): Transaction {
    return {
      get: async (path: string) => {
        const snapshot = await t.get(this.doc(path));
        return snapshot.exists ? snapshot.data() : undefined;
      },
      list: async (collection: string) => {
        const snapshot = await t.get(this.firestore.collection(collection));
        return snapshot.docs.map((d) => ({ id: d.id, data: d.data() })).sort((a, b) => cmp(a.id, b.id));
      },
      query: async (collection, query) => {
        const snapshot = await t.get(this.toQuery(collection, query));
        return snapshot.docs.map((d) => ({ id: d.id, data: d.data() }));
      },
      set: (path, data, options) => {
        t.set(this.doc(path), data, setOptions(data, options));
      },
      create: (path, data) => {
        t.create(this.doc(path), data);
      },
      delete: (path) => {
        t.delete(this.doc(path));
      },
    };
  }
}

/** Ids sorted by code unit, as the local store's `.sort()` does. */
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
