import type { Cloudfunctions2Function } from '@cdktf/provider-google/lib/cloudfunctions2-function/index.js';
import { PubsubSubscription } from '@cdktf/provider-google/lib/pubsub-subscription/index.js';
import { PubsubSubscriptionIamMember } from '@cdktf/provider-google/lib/pubsub-subscription-iam-member/index.js';
import type { PubsubTopic } from '@cdktf/provider-google/lib/pubsub-topic/index.js';
import type { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';
import type { FunctionName } from './identities.ts';
import type { Messaging } from './messaging.ts';
import type { ServiceAgent } from './service-agents.ts';

export interface SubscriptionsProps {
  project: string;
  messaging: Messaging;
  functions: Record<FunctionName, Cloudfunctions2Function>;
  /** The account Pub/Sub signs push requests as. */
  pushAccountEmail: string;
  pubsubAgent: ServiceAgent;
  maxDeliveryAttempts: number;
  /** The Pub/Sub API and the grants pushing and dead-lettering need. */
  dependsOn: ITerraformDependable[];
}

/**
 * Gen2 Pub/Sub triggers cannot carry a dead-letter policy, so launcher, collector, forecaster and the dead-letter function get
 * explicit push subscriptions (authenticated as the events account) with retry and dead-letter policies. The
 * Functions Framework turns a push body into the same CloudEvent an Eventarc trigger delivers; the push path names
 * the topic, which becomes the event's source.
 */
export class Subscriptions extends Construct {
  constructor(scope: Construct, id: string, props: SubscriptionsProps) {
    super(scope, id);
    const { messaging, functions } = props;
    const push = (
      subId: string,
      topic: PubsubTopic,
      target: Cloudfunctions2Function,
      deadLetter?: PubsubTopic,
    ) => {
      const subscription = new PubsubSubscription(this, `subscription-${subId}`, {
        name: `trendcast-${subId}`,
        topic: topic.id,
        ackDeadlineSeconds: 600,
        messageRetentionDuration: '604800s',
        retryPolicy: { minimumBackoff: '10s', maximumBackoff: '600s' },
        pushConfig: {
          pushEndpoint: `${target.serviceConfig.uri}/projects/${props.project}/topics/${topic.name}`,
          oidcToken: { serviceAccountEmail: props.pushAccountEmail, audience: target.serviceConfig.uri },
        },
        ...(deadLetter
          ? {
              deadLetterPolicy: {
                deadLetterTopic: deadLetter.id,
                maxDeliveryAttempts: props.maxDeliveryAttempts,
              },
            }
          : {}),
        dependsOn: props.dependsOn,
      });
      if (deadLetter) {
        // Forwarding to the dead-letter topic acknowledges the message on the subscription as the Pub/Sub agent.
        new PubsubSubscriptionIamMember(this, `pubsub-agent-acks-${subId}`, {
          subscription: subscription.name,
          role: 'roles/pubsub.subscriber',
          member: props.pubsubAgent.member,
          dependsOn: [...props.dependsOn, ...props.pubsubAgent.ready],
        });
      }
    };
    push('launcher', messaging.requests, functions.launcher, messaging.requestsDead);
    push('collector', messaging.results, functions.collector, messaging.resultsDead);
    push('requests-dead-letter', messaging.requestsDead, functions.deadLetter);
    push('results-dead-letter', messaging.resultsDead, functions.deadLetter);
    // A refused forecast is a failed attempt the forecaster records itself; one that keeps failing (a store that
    // stays down, a corrupt document) is dead-lettered after the same attempts as the others, not retried for 7 days.
    push('forecaster', messaging.forecasts, functions.forecaster, messaging.forecastsDead);
    push('forecasts-dead-letter', messaging.forecastsDead, functions.deadLetter);
  }
}
