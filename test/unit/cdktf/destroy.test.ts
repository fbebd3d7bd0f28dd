import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keptOnDestroy } from '../../../cdktf/destroy.ts';
import { DEMO_ENV } from './synth.ts';

const ROOT = join(import.meta.dirname, '../../..');
const STATE = [
  'google_storage_bucket.bucket',
  'google_storage_bucket.source-bucket',
  'google_project_iam_member.agent-role-pubsub-serviceAgent',
  'google_project_iam_member.gcs-agent-publisher',
  'google_pubsub_topic.topic-requests',
];

describe('npm run destroy', () => {
  it('keeps the data bucket and the service agents own roles, and the bucket only while data is kept', () => {
    expect(keptOnDestroy(STATE, false)).toEqual([
      'google_storage_bucket.bucket',
      'google_project_iam_member.agent-role-pubsub-serviceAgent',
    ]);
    expect(keptOnDestroy(STATE, true)).toEqual(['google_project_iam_member.agent-role-pubsub-serviceAgent']);
  });

  // cdktf/destroy.ts run for real, with `terraform` and `npx` replaced by scripts that log their arguments.
  function destroy(env: Record<string, string>, state: string[] | 'none') {
    const bin = mkdtempSync(join(tmpdir(), 'trendcast-destroy-'));
    const log = join(bin, 'calls.log');
    const listing = state === 'none' ? 'exit 1' : `printf '%s\\n' ${state.join(' ')}`;
    const tool = (name: string, body: string) => {
      writeFileSync(
        join(bin, name),
        `#!/bin/bash\necho "${name} $* (in \${PWD##*/})" >> "${log}"\n${body}\n`,
      );
      chmodSync(join(bin, name), 0o755);
    };
    tool('terraform', `if [ "$1 $2" = "state list" ]; then ${listing}; fi`);
    tool('npx', 'exit 0');
    mkdirSync(join(ROOT, 'cdktf/cdktf.out/stacks/trendcast'), { recursive: true });
    execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'cdktf/destroy.ts'), '--auto-approve'], {
      cwd: ROOT,
      env: { PATH: `${bin}:${process.env.PATH}`, HOME: process.env.HOME ?? '', ...DEMO_ENV, ...env },
      stdio: 'pipe',
    });
    return readFileSync(log, 'utf8').trim().split('\n');
  }

  it('takes what it keeps out of the state, then runs cdktf destroy with the flags it was given', () => {
    expect(destroy({}, STATE)).toEqual([
      'terraform state list (in trendcast)',
      'terraform state rm google_storage_bucket.bucket google_project_iam_member.agent-role-pubsub-serviceAgent (in trendcast)',
      'npx cdktf destroy --auto-approve (in cdktf)',
    ]);
  });

  it('lets the bucket go when TRENDCAST_DESTROY_DATA=1, and touches no state when there is none', () => {
    expect(destroy({ TRENDCAST_DESTROY_DATA: '1' }, STATE)[1]).toBe(
      'terraform state rm google_project_iam_member.agent-role-pubsub-serviceAgent (in trendcast)',
    );
    expect(destroy({}, 'none')).toEqual([
      'terraform state list (in trendcast)',
      'npx cdktf destroy --auto-approve (in cdktf)',
    ]);
  });
});
