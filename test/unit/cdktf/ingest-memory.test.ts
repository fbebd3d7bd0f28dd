// The ingest function is sized as bench/ingest.ts measured it: 1Gi, V8's old space capped at 256 MB.
import { describe, expect, it } from 'vitest';
import { resources, synthStack } from './synth.ts';

const functions = resources(synthStack(), 'google_cloudfunctions2_function');

describe('the ingest function', () => {
  it('has 1Gi and caps its old space at 256 MB, the cap the ingest benchmark runs with', () => {
    const ingest = functions.find((f) => f.name === 'trendcast-ingest')!;
    expect(ingest.service_config.available_memory).toBe('1Gi');
    expect(ingest.service_config.environment_variables.NODE_OPTIONS).toBe('--max-old-space-size=256');
    expect(ingest.service_config.environment_variables.TRENDCAST_BUCKET).toBeTruthy();
  });

  it('is the only one given a heap cap', () => {
    const capped = functions.filter((f) => f.service_config.environment_variables.NODE_OPTIONS);
    expect(capped.map((f) => f.name)).toEqual(['trendcast-ingest']);
  });
});
