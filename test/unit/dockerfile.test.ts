import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { trendcast } from '../helpers/cli.ts';

// No Docker engine runs here: the image cannot be built in CI. These checks keep the Dockerfile true to the repo.
const ROOT = join(import.meta.dirname, '../..');
const dockerfile = readFileSync(join(ROOT, 'trainer/Dockerfile'), 'utf8');
const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').filter(Boolean);

describe('trainer/Dockerfile', () => {
  it('is based on the CUDA 11.2 / cuDNN 8.1 runtime that tfjs-node-gpu 4.22 needs, with Node 20', () => {
    expect(dockerfile).toMatch(/^FROM nvidia\/cuda:11\.2\.\d+-cudnn8-runtime-ubuntu20\.04$/m);
    expect(dockerfile).toMatch(/^FROM node:20-/m);
    expect(dockerfile).toMatch(/@tensorflow\/tfjs-node-gpu@4\.22\.0/);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.dependencies['@tensorflow/tfjs']).toMatch(/4\.22/);
  });

  it('copies only what exists and is not excluded by .dockerignore', () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) =>
      m[1]!.split(/\s+/),
    );
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) {
      expect(existsSync(join(ROOT, source)), source).toBe(true);
      expect(ignored, source).not.toContain(source);
    }
  });

  it('copies every folder the CLI imports from', () => {
    const copied = new Set(
      [...dockerfile.matchAll(/^COPY \.\/?(\w+) /gm), ...dockerfile.matchAll(/^COPY (\w+) /gm)].map(
        (m) => m[1],
      ),
    );
    for (const folder of ['bin', 'cli', 'shared', 'adapters', 'functions', 'trainer'])
      expect(copied.has(folder), folder).toBe(true);
  });

  it('runs the entry point the Vertex AI launcher calls: `train --request <json>`', async () => {
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "bin\/trendcast\.js"\]$/m);
    const launcher = readFileSync(join(ROOT, 'adapters/gcp/job-launcher.ts'), 'utf8');
    expect(launcher).toMatch(/args: \['train', '--request', JSON\.stringify\(request\)\]/);
    const help = await trendcast(['train', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--request <file or JSON>/);
  });
});
