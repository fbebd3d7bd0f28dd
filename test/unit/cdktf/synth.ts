// Test support for the stack's tests: synthesize the whole stack, or one construct in a bare scope.
import { Testing } from 'cdktf';
import { configFrom, TrendcastStack } from '../../../cdktf/stack.ts';

export type Json = Record<string, any>;

export function synthStack(env: Record<string, string> = {}): Json {
  const app = Testing.app();
  const stack = new TrendcastStack(
    app,
    'trendcast',
    configFrom({ TRENDCAST_PROJECT: 'demo-project', ...env }),
  );
  return JSON.parse(Testing.synth(stack));
}

/** `type.name` of every resource in a synthesized stack (what Terraform keeps state under). */
export function resourceAddresses(tf: Json): string[] {
  return Object.entries(tf.resource as Record<string, Json>)
    .flatMap(([type, byName]) => Object.keys(byName).map((name) => `${type}.${name}`))
    .sort();
}
