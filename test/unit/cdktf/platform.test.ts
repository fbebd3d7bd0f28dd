import { ArtifactRegistryRepository } from '@cdktf/provider-google/lib/artifact-registry-repository/index.js';
import { CloudSchedulerJob } from '@cdktf/provider-google/lib/cloud-scheduler-job/index.js';
import { FirestoreDatabase } from '@cdktf/provider-google/lib/firestore-database/index.js';
import { FirestoreIndex } from '@cdktf/provider-google/lib/firestore-index/index.js';
import { ProjectService } from '@cdktf/provider-google/lib/project-service/index.js';
import { PubsubTopic } from '@cdktf/provider-google/lib/pubsub-topic/index.js';
import { Testing } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { API_NAMES, Apis } from '../../../cdktf/apis.ts';
import { Database } from '../../../cdktf/database.ts';
import { Registry } from '../../../cdktf/registry.ts';
import { Scheduler } from '../../../cdktf/scheduler.ts';
import './synth.ts';

describe('Apis', () => {
  const synth = Testing.synthScope((scope) => {
    new Apis(scope, 'apis');
  });

  it('enables each API once and leaves it on when the stack goes', () => {
    for (const name of API_NAMES) {
      expect(synth).toHaveResourceWithProperties(ProjectService, {
        service: `${name}.googleapis.com`,
        disable_on_destroy: false,
      });
    }
    expect(Object.keys(JSON.parse(synth).resource.google_project_service)).toHaveLength(API_NAMES.length);
  });
});

describe('Database', () => {
  const synth = Testing.synthScope((scope) => {
    new Database(scope, 'database', { region: 'asia-south1', dependsOn: [] });
  });

  it('is Firestore in native mode in the region, abandoned (kept) when the stack goes', () => {
    expect(synth).toHaveResourceWithProperties(FirestoreDatabase, {
      name: '(default)',
      location_id: 'asia-south1',
      type: 'FIRESTORE_NATIVE',
      deletion_policy: 'ABANDON',
    });
  });

  it("has the composite index the sweeper's query of open runs needs", () => {
    expect(synth).toHaveResourceWithProperties(FirestoreIndex, {
      collection: 'runs',
      fields: [
        { field_path: 'status', order: 'ASCENDING' },
        { field_path: 'deadline', order: 'ASCENDING' },
      ],
    });
  });

  it('takes a customer-managed key when given one', () => {
    const key = 'projects/p/locations/asia-south1/keyRings/r/cryptoKeys/k';
    const withKey = Testing.synthScope((scope) => {
      new Database(scope, 'database', { region: 'asia-south1', kmsKey: key, dependsOn: [] });
    });
    expect(withKey).toHaveResourceWithProperties(FirestoreDatabase, { cmek_config: { kms_key_name: key } });
    expect(synth).not.toHaveResourceWithProperties(FirestoreDatabase, { cmek_config: expect.anything() });
  });
});

describe('Registry', () => {
  it('is a Docker repository `trendcast` in the region, with the key when given one', () => {
    const key = 'projects/p/locations/asia-south1/keyRings/r/cryptoKeys/k';
    const synth = Testing.synthScope((scope) => {
      new Registry(scope, 'registry', { region: 'asia-south1', kmsKey: key, dependsOn: [] });
    });
    expect(synth).toHaveResourceWithProperties(ArtifactRegistryRepository, {
      repository_id: 'trendcast',
      format: 'DOCKER',
      location: 'asia-south1',
      kms_key_name: key,
    });
  });
});

describe('Scheduler', () => {
  it('publishes an empty message on the sweep topic every ten minutes, in the region', () => {
    const synth = Testing.synthScope((scope) => {
      const topic = new PubsubTopic(scope, 'sweep', { name: 'run-sweep' });
      new Scheduler(scope, 'scheduler', { region: 'asia-south1', sweepTopic: topic, dependsOn: [] });
    });
    expect(synth).toHaveResourceWithProperties(CloudSchedulerJob, {
      name: 'trendcast-run-sweep',
      region: 'asia-south1',
      schedule: '*/10 * * * *',
      pubsub_target: { topic_name: expect.stringMatching(/google_pubsub_topic\.sweep.*\.id/), data: 'e30=' },
    });
  });
});
