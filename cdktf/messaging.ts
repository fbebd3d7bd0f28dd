import { PubsubTopic } from '@cdktf/provider-google/lib/pubsub-topic/index.js';
import type { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';
import { DEAD_LETTER_TOPICS, TOPICS } from '../shared/names.ts';

export interface MessagingProps {
  kmsKey?: string;
  dependsOn: ITerraformDependable[];
}

/** The training and forecast topics, their dead-letter topics, and the sweep topic Cloud Scheduler publishes to. */
export class Messaging extends Construct {
  readonly requests: PubsubTopic;
  readonly results: PubsubTopic;
  readonly requestsDead: PubsubTopic;
  readonly resultsDead: PubsubTopic;
  readonly forecastsDead: PubsubTopic;
  readonly sweep: PubsubTopic;
  readonly forecasts: PubsubTopic;

  constructor(scope: Construct, id: string, props: MessagingProps) {
    super(scope, id);
    const topic = (topicId: string, name: string) =>
      new PubsubTopic(this, topicId, {
        name,
        messageRetentionDuration: '604800s',
        ...(props.kmsKey ? { kmsKeyName: props.kmsKey } : {}),
        dependsOn: props.dependsOn,
      });
    this.requests = topic('topic-requests', TOPICS.trainingRequests);
    this.results = topic('topic-results', TOPICS.trainingResults);
    this.requestsDead = topic('topic-requests-dead-letter', DEAD_LETTER_TOPICS.trainingRequests);
    this.resultsDead = topic('topic-results-dead-letter', DEAD_LETTER_TOPICS.trainingResults);
    this.sweep = topic('topic-sweep', TOPICS.runSweep);
    this.forecasts = topic('topic-forecasts', TOPICS.forecastRequests);
    this.forecastsDead = topic('topic-forecasts-dead-letter', DEAD_LETTER_TOPICS.forecastRequests);
  }
}
