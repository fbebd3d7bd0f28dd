import { ArtifactRegistryRepository } from '@cdktf/provider-google/lib/artifact-registry-repository/index.js';
import { ArtifactRegistryRepositoryIamMember } from '@cdktf/provider-google/lib/artifact-registry-repository-iam-member/index.js';
import { Cloudfunctions2Function } from '@cdktf/provider-google/lib/cloudfunctions2-function/index.js';
import { KmsCryptoKeyIamMember } from '@cdktf/provider-google/lib/kms-crypto-key-iam-member/index.js';
import { ProjectIamMember } from '@cdktf/provider-google/lib/project-iam-member/index.js';
import { PubsubSubscription } from '@cdktf/provider-google/lib/pubsub-subscription/index.js';
import { PubsubTopic } from '@cdktf/provider-google/lib/pubsub-topic/index.js';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account/index.js';
import { StorageBucket } from '@cdktf/provider-google/lib/storage-bucket/index.js';
import { StorageBucketIamMember } from '@cdktf/provider-google/lib/storage-bucket-iam-member/index.js';
import { GoogleProjectServiceIdentity } from '@cdktf/provider-google-beta/lib/google-project-service-identity/index.js';
import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_TOPICS } from '../../../shared/names.ts';
import { type Json, synthTrendcast } from './synth.ts';

const synth = synthTrendcast();
const any = (pattern: RegExp) => expect.stringMatching(pattern);

describe('ServiceAgents', () => {
  it('creates the Pub/Sub, Eventarc and Vertex AI agents with google-beta', () => {
    for (const api of ['pubsub', 'eventarc', 'aiplatform']) {
      expect(synth).toHaveResourceWithProperties(GoogleProjectServiceIdentity, {
        service: `${api}.googleapis.com`,
        provider: 'google-beta',
      });
    }
    expect(synth).not.toHaveResourceWithProperties(GoogleProjectServiceIdentity, {
      service: 'firestore.googleapis.com',
    });
  });
});

describe('Identities', () => {
  it('has one account per function, the trainer, event delivery and builds', () => {
    for (const id of [
      'ingest',
      'launcher',
      'collector',
      'dead-letter',
      'sweeper',
      'trainer',
      'events',
      'build',
    ]) {
      expect(synth).toHaveResourceWithProperties(ServiceAccount, { account_id: `trendcast-${id}` });
    }
  });

  it('lets the build account write logs, push to the stack repository and read the source bucket', () => {
    const build = any(/sa-build.*\.email\}$/);
    expect(synth).toHaveResourceWithProperties(ProjectIamMember, {
      role: 'roles/logging.logWriter',
      member: build,
    });
    expect(synth).toHaveResourceWithProperties(ArtifactRegistryRepositoryIamMember, {
      role: 'roles/artifactregistry.writer',
      member: build,
    });
    expect(synth).toHaveResourceWithProperties(StorageBucketIamMember, {
      role: 'roles/storage.objectViewer',
      bucket: any(/source-bucket/),
      member: build,
    });
  });

  it("lets the Cloud Storage agent publish (Eventarc's storage trigger) and Vertex AI's service agent pull", () => {
    expect(synth).toHaveResourceWithProperties(ProjectIamMember, {
      role: 'roles/pubsub.publisher',
      member: any(/gcs-agent.*email_address/),
    });
    expect(synth).toHaveResourceWithProperties(ArtifactRegistryRepositoryIamMember, {
      role: 'roles/artifactregistry.reader',
      member: any(/@gcp-sa-aiplatform\.iam\.gserviceaccount\.com$/),
      depends_on: expect.arrayContaining([any(/google_project_service_identity\..*agent-aiplatform/)]),
    });
  });
});

describe('Functions', () => {
  it('builds each of the six functions as the build account and runs it as its own account', () => {
    for (const [entry, account] of [
      ['ingest', 'ingest'],
      ['launcher', 'launcher'],
      ['collector', 'collector'],
      ['forecaster', 'forecaster'],
      ['deadLetter', 'dead-letter'],
      ['sweeper', 'sweeper'],
    ]) {
      expect(synth).toHaveResourceWithProperties(Cloudfunctions2Function, {
        build_config: expect.objectContaining({
          entry_point: entry,
          runtime: 'nodejs24',
          service_account: any(/sa-build.*\.id\}$/),
          docker_repository: any(/google_artifact_registry_repository\..*\.id\}$/),
        }),
        service_config: expect.objectContaining({
          service_account_email: any(new RegExp(`sa-${account}.*\\.email\\}$`)),
          ingress_settings: 'ALLOW_INTERNAL_ONLY',
        }),
      });
    }
  });

  it('triggers ingest on objects finalized in the data bucket, retrying, after the storage agent may publish', () => {
    expect(synth).toHaveResourceWithProperties(Cloudfunctions2Function, {
      name: 'trendcast-ingest',
      event_trigger: expect.objectContaining({
        event_type: 'google.cloud.storage.object.v1.finalized',
        retry_policy: 'RETRY_POLICY_RETRY',
      }),
      depends_on: expect.arrayContaining([any(/google_project_iam_member\..*gcs-agent-publisher/)]),
    });
  });

  it('lets only the events account invoke the functions, before any trigger or push subscription exists', () => {
    const tf = JSON.parse(synth) as Json;
    const invokers = Object.values(tf.resource.google_project_iam_member).filter(
      (m) => (m as Json).role === 'roles/run.invoker',
    ) as Json[];
    expect(invokers).toEqual([
      expect.objectContaining({
        member: any(/sa-events.*\.email\}$/),
        condition: {
          title: 'trendcast functions only',
          expression:
            'resource.name.startsWith("projects/demo-project/locations/asia-south1/services/trendcast-")',
        },
      }),
    ]);
    expect(tf.resource.google_cloud_run_service_iam_member).toBeUndefined();
    const grant = expect.arrayContaining([any(/^google_project_iam_member\..*events-invokes-functions/)]);
    const triggered = (Object.values(tf.resource.google_cloudfunctions2_function) as Json[]).filter(
      (f) => f.event_trigger,
    );
    expect(triggered.map((f) => f.name).sort()).toEqual(['trendcast-ingest', 'trendcast-sweeper']);
    for (const f of triggered) expect(f.depends_on, f.name).toEqual(grant);
    for (const sub of Object.values(tf.resource.google_pubsub_subscription) as Json[])
      expect(sub.depends_on, sub.name).toEqual(grant);
  });
});

describe('Subscriptions', () => {
  it('pushes requests, results and forecast requests with retry and a dead-letter topic after five attempts, signed as events', () => {
    for (const [name, dead] of [
      ['trendcast-launcher', 'requests-dead-letter'],
      ['trendcast-collector', 'results-dead-letter'],
      ['trendcast-forecaster', 'forecasts-dead-letter'],
    ]) {
      expect(synth).toHaveResourceWithProperties(PubsubSubscription, {
        name,
        retry_policy: { minimum_backoff: '10s', maximum_backoff: '600s' },
        dead_letter_policy: {
          dead_letter_topic: any(new RegExp(`topic-${dead}.*\\.id\\}$`)),
          max_delivery_attempts: 5,
        },
        push_config: expect.objectContaining({
          oidc_token: expect.objectContaining({ service_account_email: any(/sa-events/) }),
        }),
      });
    }
    // The dead-letter function reads every dead-letter topic, with no dead-letter topic of its own.
    for (const dead of ['requests-dead-letter', 'results-dead-letter', 'forecasts-dead-letter']) {
      expect(synth).toHaveResourceWithProperties(PubsubSubscription, {
        name: `trendcast-${dead}`,
        topic: any(new RegExp(`topic-${dead}.*\\.id\\}$`)),
      });
      expect(synth).not.toHaveResourceWithProperties(PubsubSubscription, {
        name: `trendcast-${dead}`,
        dead_letter_policy: expect.anything(),
      });
    }
    expect(Object.keys(DEAD_LETTER_TOPICS)).toHaveLength(3);
  });
});

describe('Encryption (optional)', () => {
  const key = 'projects/p/locations/asia-south1/keyRings/r/cryptoKeys/k';
  const cmek = synthTrendcast({ TRENDCAST_KMS_KEY: key });

  it('lets the storage, Pub/Sub, Artifact Registry and Firestore agents use the key', () => {
    for (const agent of [/gcs-agent/, /gcp-sa-pubsub/, /gcp-sa-artifactregistry/, /gcp-sa-firestore/]) {
      expect(cmek).toHaveResourceWithProperties(KmsCryptoKeyIamMember, {
        crypto_key_id: key,
        role: 'roles/cloudkms.cryptoKeyEncrypterDecrypter',
        member: any(agent),
      });
    }
    expect(synth).not.toHaveResource(KmsCryptoKeyIamMember);
  });

  it('encrypts the buckets, topics and registry with it, each after its agent may use it', () => {
    expect(cmek).toHaveResourceWithProperties(StorageBucket, {
      encryption: { default_kms_key_name: key },
      depends_on: expect.arrayContaining([any(/google_kms_crypto_key_iam_member\..*kms-storage/)]),
    });
    expect(cmek).toHaveResourceWithProperties(PubsubTopic, {
      kms_key_name: key,
      depends_on: expect.arrayContaining([any(/google_kms_crypto_key_iam_member\..*kms-pubsub/)]),
    });
    expect(cmek).toHaveResourceWithProperties(ArtifactRegistryRepository, {
      kms_key_name: key,
      depends_on: expect.arrayContaining([any(/google_kms_crypto_key_iam_member\..*kms-artifactRegistry/)]),
    });
    const topics = Object.values(JSON.parse(cmek).resource.google_pubsub_topic) as Array<{
      kms_key_name?: string;
    }>;
    expect(topics.map((t) => t.kms_key_name)).toEqual(Array(7).fill(key));
  });
});

describe('Access logs (optional)', () => {
  it('sends both buckets access logs to the given bucket, which Cloud Storage may write to', () => {
    const logged = synthTrendcast({ TRENDCAST_ACCESS_LOG_BUCKET: 'my-logs' });
    for (const prefix of ['demo-project-trendcast/', 'demo-project-trendcast-source/']) {
      expect(logged).toHaveResourceWithProperties(StorageBucket, {
        logging: { log_bucket: 'my-logs', log_object_prefix: prefix },
      });
    }
    expect(logged).toHaveResourceWithProperties(StorageBucketIamMember, {
      bucket: 'my-logs',
      role: 'roles/storage.objectCreator',
      member: 'group:cloud-storage-analytics@google.com',
    });
    expect(synth).not.toHaveResourceWithProperties(StorageBucket, { logging: expect.anything() });
  });
});
