import { DataArchiveFile } from '@cdktf/provider-archive/lib/data-archive-file/index.js';
import { StorageBucket, type StorageBucketConfig } from '@cdktf/provider-google/lib/storage-bucket/index.js';
import { StorageBucketIamMember } from '@cdktf/provider-google/lib/storage-bucket-iam-member/index.js';
import { StorageBucketObject } from '@cdktf/provider-google/lib/storage-bucket-object/index.js';
import type { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';

export interface StorageProps {
  region: string;
  bucketName: string;
  datasetRetentionDays: number;
  /** Without it the data bucket cannot be destroyed (prevent_destroy) and keeps its objects. */
  destroyData: boolean;
  /** Adopt the existing bucket of this name (Terraform `import`). */
  importBucket: boolean;
  kmsKey?: string;
  /** An existing bucket for access logs: Cloud Storage writes both buckets' usage logs there. */
  accessLogBucket?: string;
  dependsOn: ITerraformDependable[];
}

/** The data bucket, and one for the functions' source archive (built by `npm run build`) and build uploads. */
export class Storage extends Construct {
  readonly bucket: StorageBucket;
  readonly sourceBucket: StorageBucket;
  readonly source: StorageBucketObject;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
    const logsWriter = props.accessLogBucket
      ? // Cloud Storage's usage-log writer is this Google group (Cloud Storage access logs documentation).
        new StorageBucketIamMember(this, 'access-logs-writer', {
          bucket: props.accessLogBucket,
          role: 'roles/storage.objectCreator',
          member: 'group:cloud-storage-analytics@google.com',
        })
      : undefined;
    const hardened = (name: string): StorageBucketConfig => ({
      name,
      location: props.region.toUpperCase(),
      uniformBucketLevelAccess: true,
      publicAccessPrevention: 'enforced',
      versioning: { enabled: true },
      ...(props.kmsKey ? { encryption: { defaultKmsKeyName: props.kmsKey } } : {}),
      ...(props.accessLogBucket
        ? { logging: { logBucket: props.accessLogBucket, logObjectPrefix: `${name}/` } }
        : {}),
      dependsOn: [...props.dependsOn, ...(logsWriter ? [logsWriter] : [])],
    });
    this.bucket = new StorageBucket(this, 'bucket', {
      ...hardened(props.bucketName),
      forceDestroy: props.destroyData,
      lifecycle: { preventDestroy: !props.destroyData },
      lifecycleRule: [
        {
          condition: { age: props.datasetRetentionDays, matchesPrefix: ['datasets/'] },
          action: { type: 'Delete' },
        },
        { condition: { daysSinceNoncurrentTime: 30, withState: 'ARCHIVED' }, action: { type: 'Delete' } },
      ],
    });
    if (props.importBucket) this.bucket.importFrom(props.bucketName);
    this.sourceBucket = new StorageBucket(this, 'source-bucket', {
      ...hardened(`${props.bucketName}-source`),
      forceDestroy: true, // only build inputs: `npm run build` and `gcloud builds submit` make them again
      lifecycleRule: [
        { condition: { numNewerVersions: 3, withState: 'ARCHIVED' }, action: { type: 'Delete' } },
        { condition: { age: 30, matchesPrefix: ['cloudbuild/'] }, action: { type: 'Delete' } },
      ],
    });
    // `npm run build` writes dist/functions; the path is relative to the synthesized stack's folder.
    const archive = new DataArchiveFile(this, 'functions-archive', {
      type: 'zip',
      sourceDir: '${path.module}/../../../../dist/functions',
      outputPath: '${path.module}/functions-source.zip',
    });
    this.source = new StorageBucketObject(this, 'functions-source', {
      bucket: this.sourceBucket.name,
      name: `functions-${archive.outputMd5}.zip`,
      source: archive.outputPath,
    });
  }
}
