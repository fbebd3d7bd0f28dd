import { PubsubTopic } from '@cdktf/provider-google/lib/pubsub-topic/index.js';
import { StorageBucket } from '@cdktf/provider-google/lib/storage-bucket/index.js';
import { StorageBucketObject } from '@cdktf/provider-google/lib/storage-bucket-object/index.js';
import { Testing } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { Apis } from '../../../cdktf/apis.ts';
import { Messaging } from '../../../cdktf/messaging.ts';
import { Storage } from '../../../cdktf/storage.ts';
import { DEAD_LETTER_TOPICS, TOPICS } from '../../../shared/names.ts';
import './synth.ts';

describe('Storage', () => {
  const synth = Testing.synthScope((scope) => {
    const apis = new Apis(scope, 'apis');
    new Storage(scope, 'storage', {
      region: 'asia-south1',
      bucketName: 'demo-data',
      datasetRetentionDays: 30,
      destroyData: false,
      importBucket: false,
      dependsOn: apis.needs('storage'),
    });
  });

  it('makes a private, versioned data bucket in the region that forgets old datasets and old versions', () => {
    expect(synth).toHaveResourceWithProperties(StorageBucket, {
      name: 'demo-data',
      location: 'ASIA-SOUTH1',
      uniform_bucket_level_access: true,
      public_access_prevention: 'enforced',
      versioning: { enabled: true },
      force_destroy: false,
      lifecycle_rule: [
        { condition: { age: 30, matches_prefix: ['datasets/'] }, action: { type: 'Delete' } },
        { condition: { days_since_noncurrent_time: 30, with_state: 'ARCHIVED' }, action: { type: 'Delete' } },
      ],
    });
  });

  it('keeps the functions source beside it, named by the archive hash so a new build redeploys', () => {
    expect(synth).toHaveResourceWithProperties(StorageBucket, {
      name: 'demo-data-source',
      public_access_prevention: 'enforced',
    });
    expect(synth).toHaveResourceWithProperties(StorageBucketObject, {
      name: expect.stringMatching(
        /^functions-\$\{data\.archive_file\.\S*functions-archive\S*\.output_md5\}\.zip$/,
      ),
    });
  });
});

describe('Messaging', () => {
  const synth = Testing.synthScope((scope) => {
    new Messaging(scope, 'messaging', { dependsOn: [] });
  });

  it('has the request, result, forecast and sweep topics and a dead-letter topic for the first three, kept a week', () => {
    for (const name of [...Object.values(TOPICS), ...Object.values(DEAD_LETTER_TOPICS)]) {
      expect(synth).toHaveResourceWithProperties(PubsubTopic, {
        name,
        message_retention_duration: '604800s',
      });
    }
    expect(Object.keys(JSON.parse(synth).resource.google_pubsub_topic)).toHaveLength(7);
  });
});
