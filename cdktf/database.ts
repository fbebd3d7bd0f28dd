import { FirestoreDatabase } from '@cdktf/provider-google/lib/firestore-database/index.js';
import type { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';

export interface DatabaseProps {
  region: string;
  dependsOn: ITerraformDependable[];
}

/** Firestore in native mode, in the region: runs, trials and models. */
export class Database extends Construct {
  readonly firestore: FirestoreDatabase;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    this.firestore = new FirestoreDatabase(this, 'firestore', {
      name: '(default)',
      locationId: props.region,
      type: 'FIRESTORE_NATIVE',
      // Destroying the stack keeps the documents (the database cannot be recreated under its name for a while).
      deletionPolicy: 'ABANDON',
      dependsOn: props.dependsOn,
    });
  }
}
