import { KmsCryptoKeyIamMember } from '@cdktf/provider-google/lib/kms-crypto-key-iam-member/index.js';
import type { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';
import type { ServiceAgent } from './service-agents.ts';

export interface EncryptionProps {
  kmsKey: string;
  /** The service agents that encrypt with the key on the stack's behalf, by what they encrypt. */
  agents: Record<'storage' | 'pubsub' | 'artifactRegistry' | 'firestore', ServiceAgent>;
}

/**
 * Customer-managed encryption (optional): each service agent may use the key, and whatever it encrypts waits for
 * that grant (a bucket, topic, repository or database created before it fails).
 */
export class Encryption extends Construct {
  readonly kmsKey: string;
  readonly grants: Record<keyof EncryptionProps['agents'], ITerraformDependable>;

  constructor(scope: Construct, id: string, props: EncryptionProps) {
    super(scope, id);
    this.kmsKey = props.kmsKey;
    const grant = (name: keyof EncryptionProps['agents']) =>
      new KmsCryptoKeyIamMember(this, `kms-${name}`, {
        cryptoKeyId: props.kmsKey,
        role: 'roles/cloudkms.cryptoKeyEncrypterDecrypter',
        member: props.agents[name].member,
        dependsOn: props.agents[name].ready,
      });
    this.grants = {
      storage: grant('storage'),
      pubsub: grant('pubsub'),
      artifactRegistry: grant('artifactRegistry'),
      firestore: grant('firestore'),
    };
  }
}
