import { DataArchiveFile } from '@cdktf/provider-archive/lib/data-archive-file/index.js';
import { StorageBucket, type StorageBucketConfig } from '@cdktf/provider-google/lib/storage-bucket/index.js';
import { StorageBucketObject } from '@cdktf/provider-google/lib/storage-bucket-object/index.js';
import type { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';

export interface StorageProps {
  region: string;
  bucketName: string;
  datasetRetentionDays: number;
  dependsOn: ITerraformDependable[];
}

/** The data bucket, and one for the functions' source archive (built by `npm run build`). */
export class Storage extends Construct {
  readonly bucket: StorageBucket;
  readonly sourceBucket: StorageBucket;
  readonly source: StorageBucketObject;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
    const hardened: Omit<StorageBucketConfig, 'name'> = {
      location: props.region.toUpperCase(),
      uniformBucketLevelAccess: true,
      publicAccessPrevention: 'enforced',
      versioning: { enabled: true },
      forceDestroy: false,
      dependsOn: props.dependsOn,
    };
    this.bucket = new StorageBucket(this, 'bucket', {
      ...hardened,
      name: props.bucketName,
      lifecycleRule: [
        {
          condition: { age: props.datasetRetentionDays, matchesPrefix: ['datasets/'] },
          action: { type: 'Delete' },
        },
        { condition: { daysSinceNoncurrentTime: 30, withState: 'ARCHIVED' }, action: { type: 'Delete' } },
      ],
    });
    this.sourceBucket = new StorageBucket(this, 'source-bucket', {
      ...hardened,
      name: `${props.bucketName}-source`,
      lifecycleRule: [
        { condition: { numNewerVersions: 3, withState: 'ARCHIVED' }, action: { type: 'Delete' } },
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
