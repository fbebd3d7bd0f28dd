// Test support for the stack's tests: synthesize the whole stack, or constructs in a bare scope, and cdktf's
// matchers (`toHaveResourceWithProperties`, ...) registered with vitest.
import { GoogleBetaProvider } from '@cdktf/provider-google-beta/lib/provider/index.js';
import { Testing } from 'cdktf';
import { expect } from 'vitest';
import { configFrom, TrendcastStack } from '../../../cdktf/stack.ts';
import { Trendcast } from '../../../cdktf/trendcast.ts';

// biome-ignore lint/suspicious/noExplicitAny: synthesized Terraform JSON is walked freely by the tests
export type Json = Record<string, any>;

declare module 'vitest' {
  interface Assertion {
    toHaveResource(resource: { tfResourceType: string }): void;
    toHaveResourceWithProperties(resource: { tfResourceType: string }, properties: Json): void;
    toHaveDataSourceWithProperties(dataSource: { tfResourceType: string }, properties: Json): void;
  }
}
// cdktf's Jest adapter reads the global `expect` (vitest does not define one unless `globals` is on).
(globalThis as { expect?: unknown }).expect = expect;
Testing.setupJest();

/** Settings a test deployment needs; each test overrides what it is about. */
export const DEMO_ENV = {
  TRENDCAST_PROJECT: 'demo-project',
  TRENDCAST_TRAINER_IMAGE: 'asia-south1-docker.pkg.dev/demo-project/trendcast/trainer:test',
};

export function synthStack(env: Record<string, string> = {}): Json {
  const app = Testing.app();
  const stack = new TrendcastStack(app, 'trendcast', configFrom({ ...DEMO_ENV, ...env }));
  return JSON.parse(Testing.synth(stack));
}

/** `type.name` of every resource in a synthesized stack (what Terraform keeps state under). */
export function resourceAddresses(tf: Json): string[] {
  return Object.entries(tf.resource as Record<string, Json>)
    .flatMap(([type, byName]) => Object.keys(byName).map((name) => `${type}.${name}`))
    .sort();
}

export const resources = (tf: Json, type: string): Json[] => Object.values(tf.resource[type] ?? {});
export const byName = (tf: Json, type: string, name: string): Json => {
  const found = resources(tf, type).find((r) => r.name === name);
  if (!found) throw new Error(`no ${type} named ${name}`);
  return found;
};

/** The whole deployment synthesized as one construct in a bare test stack (hashed addresses, no backend). */
export function synthTrendcast(env: Record<string, string> = {}): string {
  return Testing.synthScope((scope) => {
    const betaProvider = new GoogleBetaProvider(scope, 'google-beta', {});
    new Trendcast(scope, 'trendcast', { config: configFrom({ ...DEMO_ENV, ...env }), betaProvider });
  });
}
