// The Functions Framework entry: Cloud Functions gen2 loads this module and serves one target per function
// (`--target=ingest|launcher|collector|forecaster|deadLetter|sweeper --signature-type=cloudevent`).

import type { CloudEvent } from '@google-cloud/functions-framework';
import * as functions from '@google-cloud/functions-framework';
import { gcpDeps } from '../adapters/gcp/deps.ts';
import { createLogger } from '../adapters/log.ts';
import type { MessagePublishedData, StorageObjectData } from '../shared/events.ts';
import type { Deps } from '../shared/ports.ts';
import { readSettings } from '../shared/settings.ts';
import { collector } from './collector.ts';
import { deadLetter } from './dead-letter.ts';
import { forecaster } from './forecast.ts';
import { ingest } from './ingest.ts';
import { launcher } from './launcher.ts';
import { sweeper } from './sweeper.ts';

/**
 * Registers the CloudEvent functions with the given deps. A handler that throws makes the framework answer 500,
 * and Eventarc (Pub/Sub) delivers the event again.
 */
export function registerFunctions(deps: () => Deps): void {
  type Storage = CloudEvent<StorageObjectData>;
  type PubSub = CloudEvent<MessagePublishedData>;
  functions.cloudEvent('ingest', (event: Storage) => ingest(event, deps()));
  functions.cloudEvent('launcher', (event: PubSub) => launcher(event, deps()));
  functions.cloudEvent('collector', (event: PubSub) => collector(event, deps()));
  functions.cloudEvent('forecaster', (event: PubSub) => forecaster(event, deps()));
  functions.cloudEvent('deadLetter', (event: PubSub) => deadLetter(event, deps()));
  // Cloud Scheduler publishes to `run-sweep`; the message itself carries nothing.
  functions.cloudEvent('sweeper', async (_event: PubSub) => {
    await sweeper(deps());
  });
}

// Built on the first event, so a misconfigured environment fails that event (and is logged), not the module load.
let cloud: Deps | undefined;
registerFunctions(() => {
  cloud ??= gcpDeps(readSettings(), createLogger({}, { json: true }));
  return cloud;
});
