import { FirestoreDatabase } from '@cdktf/provider-google/lib/firestore-database/index.js';
import { FirestoreIndex } from '@cdktf/provider-google/lib/firestore-index/index.js';
import type { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';
import { DOCS } from '../shared/names.ts';

export interface DatabaseProps {
  region: string;
  /** Firestore takes a key only when the database is created (docs/deploy.md). */
  kmsKey?: string;
  dependsOn: ITerraformDependable[];
}

/** Firestore in native mode, in the region (runs, trials, models), and the indexes its queries need. */
export class Database extends Construct {
  readonly firestore: FirestoreDatabase;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    this.firestore = new FirestoreDatabase(this, 'firestore', {
      name: '(default)',
      locationId: props.region,
      type: 'FIRESTORE_NATIVE',
      // The training queue's transactions only need to be serializable; with optimistic concurrency a dispatcher
      // reading the slot documents never holds a lock that makes a collector wait (the default is pessimistic).
      concurrencyMode: 'OPTIMISTIC',
      // Destroying the stack keeps the documents.
      deletionPolicy: 'ABANDON',
      ...(props.kmsKey ? { cmekConfig: { kmsKeyName: props.kmsKey } } : {}),
      dependsOn: props.dependsOn,
    });
    // The sweeper's query of open runs: status in (ingesting, training) and deadline before now.
    new FirestoreIndex(this, 'index-runs-open', {
      database: this.firestore.name,
      collection: DOCS.runs,
      queryScope: 'COLLECTION',
      fields: [
        { fieldPath: 'status', order: 'ASCENDING' },
        { fieldPath: 'deadline', order: 'ASCENDING' },
      ],
      dependsOn: [this.firestore],
    });
  }
}
