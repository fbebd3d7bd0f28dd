import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIOME = join(ROOT, 'node_modules/.bin/biome');
const probes: string[] = [];

/** Lints one probe file placed in `folder` (the layer rules are per folder), then removes it. */
function lintProbe(folder: string, source: string): Promise<{ code: number; output: string }> {
  const file = join(ROOT, folder, `layer-probe-${process.pid}-${probes.length}.ts`);
  probes.push(file);
  writeFileSync(file, source);
  return new Promise((resolve) => {
    execFile(BIOME, ['lint', file], { cwd: ROOT }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, output: stdout + stderr });
    });
  });
}

afterEach(() => {
  for (const file of probes.splice(0)) rmSync(file, { force: true });
});

describe('layers point one way, and `npm run lint` keeps them so', () => {
  it.each([
    ['shared', "import { createLogger } from '../adapters/log.ts';\nexport const x = createLogger;\n"],
    ['shared', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n"],
    ['shared', "import { ingest } from '../functions/ingest.ts';\nexport const x = ingest;\n"],
    [
      'adapters/local',
      "import { collector } from '../../functions/collector.ts';\nexport const x = collector;\n",
    ],
    ['adapters', "import { runTraining } from '../trainer/train.ts';\nexport const x = runTraining;\n"],
    ['functions', "import { gcpDeps } from '../adapters/gcp/deps.ts';\nexport const x = gcpDeps;\n"],
    ['functions', "import { createLogger } from '../adapters/log.ts';\nexport const x = createLogger;\n"],
  ])('refuses a wrong-way import in %s/', async (folder, source) => {
    const { code, output } = await lintProbe(folder, source);
    expect(code).not.toBe(0);
    expect(output).toMatch(/noRestrictedImports/);
  });

  it.each([
    ['shared', "import { DOCS } from './names.ts';\nexport const x = DOCS;\n"],
    ['adapters/local', "import { DOCS } from '../../shared/names.ts';\nexport const x = DOCS;\n"],
    ['functions', "import { readRun } from '../shared/records.ts';\nexport const x = readRun;\n"],
  ])('accepts a right-way import in %s/', async (folder, source) => {
    const { code, output } = await lintProbe(folder, source);
    expect(output).not.toMatch(/noRestrictedImports/);
    expect(code).toBe(0);
  });
});
