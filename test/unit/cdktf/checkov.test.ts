import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// checkov itself runs in CI (.ci/checkov.sh, from .ci/run): it needs Python and a virtualenv. These checks keep its
// configuration honest: every skip names its reason, and CI runs it.
const ROOT = join(import.meta.dirname, '../../..');
const text = readFileSync(join(ROOT, '.ci/checkov.yaml'), 'utf8');

describe('the checkov configuration', () => {
  it('gives a reason for every check it skips', () => {
    const skipped = (parse(text) as { 'skip-check': string[] })['skip-check'];
    expect(skipped.length).toBeGreaterThan(0);
    for (const id of skipped) {
      const line = text.split('\n').find((l) => l.trim().startsWith(`- ${id} `));
      const reason = line?.split('#')[1]?.trim() ?? '';
      expect(reason.length, `${id} needs a reason`).toBeGreaterThan(30);
    }
  });

  it('skips, with the optional inputs on, only the checks marked (always); the others are what the inputs fix', () => {
    const skipped = (parse(text) as { 'skip-check': string[] })['skip-check'];
    expect(skipped.sort()).toEqual(['CKV_GCP_49', 'CKV_GCP_62', 'CKV_GCP_83', 'CKV_GCP_84']);
    const marked = (mark: string) =>
      skipped.filter((id) =>
        text.split('\n').some((l) => l.trim().startsWith(`- ${id} `) && l.includes(mark)),
      );
    expect(marked('# (always)')).toEqual(['CKV_GCP_49']);
    expect(marked('# (input)').sort()).toEqual(['CKV_GCP_62', 'CKV_GCP_83', 'CKV_GCP_84']);
    const script = readFileSync(join(ROOT, '.ci/checkov.sh'), 'utf8');
    // The second run, with both inputs on, has no configuration file: it skips the (always) ones only.
    expect(script).toMatch(/TRENDCAST_KMS_KEY=\S+ \\\n\s+TRENDCAST_ACCESS_LOG_BUCKET=\S+ npm run synth/);
    expect(script.match(/checkov --config-file/g)).toHaveLength(1);
    expect(script).toMatch(/--skip-check "\$always"$/m);
  });

  it('runs in CI', () => {
    expect(readFileSync(join(ROOT, '.ci/run'), 'utf8')).toMatch(/^bash \.ci\/checkov\.sh$/m);
  });
});
