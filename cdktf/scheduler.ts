import { CloudSchedulerJob } from '@cdktf/provider-google/lib/cloud-scheduler-job/index.js';
import type { PubsubTopic } from '@cdktf/provider-google/lib/pubsub-topic/index.js';
import type { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';

export interface SchedulerProps {
  region: string;
  sweepTopic: PubsubTopic;
  dependsOn: ITerraformDependable[];
}

/** Every ten minutes, a message on the sweep topic: the sweeper ends runs past their deadline. */
export class Scheduler extends Construct {
  constructor(scope: Construct, id: string, props: SchedulerProps) {
    super(scope, id);
    new CloudSchedulerJob(this, 'sweep-schedule', {
      name: 'trendcast-run-sweep',
      region: props.region,
      schedule: '*/10 * * * *',
      description: 'ends trendcast runs past their deadline',
      pubsubTarget: { topicName: props.sweepTopic.id, data: Buffer.from('{}').toString('base64') },
      dependsOn: props.dependsOn,
    });
  }
}
