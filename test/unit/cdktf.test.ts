import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Testing } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { configFrom, TrendcastStack } from '../../cdktf/stack.ts';
import { DEAD_LETTER_TOPICS, TOPICS } from '../../shared/names.ts';

type Json = Record<string, any>;
function synth(env: Record<string, string> = {}): Json {
  const app = Testing.app();
  const stack = new TrendcastStack(
    app,
    'trendcast',
    configFrom({ TRENDCAST_PROJECT: 'demo-project', ...env }),
  );
  return JSON.parse(Testing.synth(stack));
}
const resources = (tf: Json, type: string): Json[] => Object.values(tf.resource[type] ?? {});
const byName = (tf: Json, type: string, name: string) => resources(tf, type).find((r) => r.name === name)!;

describe('the CDKTF stack', () => {
  const tf = synth();

  it('enables the APIs it needs', () => {
    const services = resources(tf, 'google_project_service').map((r) => r.service);
    for (const api of [
      'cloudfunctions',
      'run',
      'eventarc',
      'pubsub',
      'firestore',
      'aiplatform',
      'artifactregistry',
      'cloudscheduler',
    ]) {
      expect(services).toContain(`${api}.googleapis.com`);
    }
  });

  it('makes a private, versioned bucket that forgets old datasets', () => {
    const bucket = byName(tf, 'google_storage_bucket', 'demo-project-trendcast');
    expect(bucket).toMatchObject({
      location: 'ASIA-SOUTH1',
      uniform_bucket_level_access: true,
      public_access_prevention: 'enforced',
      versioning: { enabled: true },
    });
    expect(bucket.lifecycle_rule).toContainEqual({
      condition: { age: 30, matches_prefix: ['datasets/'] },
      action: { type: 'Delete' },
    });
  });

  it('has the topics, dead-letter topics, and push subscriptions with retry and dead-letter policies', () => {
    const topics = resources(tf, 'google_pubsub_topic').map((t) => t.name);
    expect(topics.sort()).toEqual([...Object.values(TOPICS), ...Object.values(DEAD_LETTER_TOPICS)].sort());
    const expected: Array<[string, string]> = [
      ['trendcast-launcher', DEAD_LETTER_TOPICS.trainingRequests],
      ['trendcast-collector', DEAD_LETTER_TOPICS.trainingResults],
    ];
    for (const [name, dead] of expected) {
      const sub = byName(tf, 'google_pubsub_subscription', name);
      expect(sub.dead_letter_policy.max_delivery_attempts).toBe(5);
      expect(sub.dead_letter_policy.dead_letter_topic).toMatch(
        new RegExp(
          `google_pubsub_topic\\.topic-${dead.startsWith('training-requests') ? 'requests' : 'results'}-dead-letter`,
        ),
      );
      expect(sub.retry_policy).toEqual({ minimum_backoff: '10s', maximum_backoff: '600s' });
      expect(sub.push_config.oidc_token.service_account_email).toMatch(/sa-events/);
    }
    const forecaster = byName(tf, 'google_pubsub_subscription', 'trendcast-forecaster');
    expect(forecaster.topic).toMatch(/google_pubsub_topic\.topic-forecasts/);
    expect(forecaster.push_config.push_endpoint).toMatch(
      /function-forecaster.*topics\/\${google_pubsub_topic.topic-forecasts.name}$/,
    );
  });

  it('deploys the six functions from the built source, each as its own service account, with its settings', () => {
    const functions = resources(tf, 'google_cloudfunctions2_function');
    expect(functions.map((f) => f.build_config.entry_point).sort()).toEqual([
      'collector',
      'deadLetter',
      'forecaster',
      'ingest',
      'launcher',
      'sweeper',
    ]);
    const accounts = new Set(functions.map((f) => f.service_config.service_account_email));
    expect(accounts.size).toBe(6);
    for (const f of functions) {
      expect(f.build_config.runtime).toBe('nodejs20');
      expect(f.service_config.ingress_settings).toBe('ALLOW_INTERNAL_ONLY');
      expect(f.service_config.environment_variables).toMatchObject({
        TRENDCAST_BACKEND: 'gcp',
        GOOGLE_CLOUD_PROJECT: 'demo-project',
        TRENDCAST_REGION: 'asia-south1',
        TRENDCAST_MACHINE_TYPE: 'n1-standard-4',
        TRENDCAST_ACCELERATOR_TYPE: 'NVIDIA_TESLA_T4',
        TRENDCAST_MAX_JOBS: '1',
        TRENDCAST_TRAINER_IMAGE: 'asia-south1-docker.pkg.dev/demo-project/trendcast/trainer:latest',
      });
    }
    const ingest = byName(tf, 'google_cloudfunctions2_function', 'trendcast-ingest');
    expect(ingest.event_trigger).toMatchObject({
      event_type: 'google.cloud.storage.object.v1.finalized',
      retry_policy: 'RETRY_POLICY_RETRY',
      event_filters: [{ attribute: 'bucket', value: '${google_storage_bucket.bucket.name}' }],
    });
    expect(tf.data.archive_file['functions-archive'].source_dir).toBe(
      '${path.module}/../../../../dist/functions',
    );
  });

  it('has Firestore in native mode and the trainer registry, in the region', () => {
    expect(resources(tf, 'google_firestore_database')[0]).toMatchObject({
      type: 'FIRESTORE_NATIVE',
      location_id: 'asia-south1',
    });
    expect(resources(tf, 'google_artifact_registry_repository')[0]).toMatchObject({
      format: 'DOCKER',
      location: 'asia-south1',
    });
  });

  it('grants least privilege: bucket-scoped storage, topic-scoped publishing, Vertex only to the launcher', () => {
    const projectRoles = resources(tf, 'google_project_iam_member').map((m) => `${m.role} ${m.member}`);
    expect(projectRoles.filter((r) => r.startsWith('roles/storage'))).toEqual([]);
    expect(projectRoles.filter((r) => r.startsWith('roles/aiplatform'))).toEqual([
      'roles/aiplatform.user serviceAccount:${google_service_account.sa-launcher.email}',
    ]);
    expect(projectRoles.some((r) => r.startsWith('roles/owner') || r.startsWith('roles/editor'))).toBe(false);
    const bucketMembers = resources(tf, 'google_storage_bucket_iam_member').map((m) => m.member);
    expect(bucketMembers.sort()).toEqual(
      ['collector', 'forecaster', 'ingest', 'trainer']
        .map((a) => `serviceAccount:\${google_service_account.sa-${a}.email}`)
        .sort(),
    );
    const actAs = resources(tf, 'google_service_account_iam_member').find(
      (m) => m.role === 'roles/iam.serviceAccountUser',
    )!;
    expect(actAs.member).toMatch(/sa-launcher/);
    expect(actAs.service_account_id).toMatch(/sa-trainer/);
    expect(projectRoles).toContain(
      'roles/pubsub.publisher serviceAccount:${data.google_storage_project_service_account.gcs-agent.email_address}',
    );
  });

  it('has no public members and no service-account keys', () => {
    const text = JSON.stringify(tf);
    expect(text).not.toMatch(/allUsers|allAuthenticatedUsers/);
    expect(Object.keys(tf.resource).filter((t) => t.includes('key'))).toEqual([]);
  });

  it('puts every regional resource in the configured region', () => {
    const other = synth({ TRENDCAST_REGION: 'europe-west4' });
    const regional = [
      ...resources(other, 'google_cloudfunctions2_function').map((r) => r.location),
      ...resources(other, 'google_cloudfunctions2_function')
        .filter((r) => r.event_trigger)
        .map((r) => r.event_trigger.trigger_region),
      ...resources(other, 'google_firestore_database').map((r) => r.location_id),
      ...resources(other, 'google_artifact_registry_repository').map((r) => r.location),
      ...resources(other, 'google_cloud_scheduler_job').map((r) => r.region),
      ...resources(other, 'google_cloud_run_service_iam_member').map((r) => r.location),
      other.provider.google[0].region,
    ];
    expect(new Set(regional)).toEqual(new Set(['europe-west4']));
    expect(new Set(resources(other, 'google_storage_bucket').map((b) => b.location))).toEqual(
      new Set(['EUROPE-WEST4']),
    );
    expect(JSON.stringify(other)).not.toMatch(/asia-south1/);
  });

  it('keeps state in a local backend, so the JSON works with plain terraform', () => {
    expect(tf.terraform.backend).toEqual({ local: { path: 'terraform.tfstate' } });
    expect(Object.keys(tf.terraform.required_providers).sort()).toEqual(['archive', 'google']);
  });

  it('refuses to synthesize without a project, saying how to give one', () => {
    expect(() => configFrom({})).toThrow(/TRENDCAST_PROJECT/);
  });

  it('synthesizes offline through the real cdktf CLI (npm run synth)', async () => {
    const root = join(import.meta.dirname, '../..');
    await promisify(execFile)('npm', ['run', 'synth', '--silent'], {
      cwd: root,
      env: { ...process.env, TRENDCAST_PROJECT: 'demo-project', CHECKPOINT_DISABLE: '1', CI: '1' },
    });
    const file = join(root, 'cdktf/cdktf.out/stacks/trendcast/cdk.tf.json');
    expect(existsSync(file)).toBe(true);
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')).resource)).toContain(
      'google_cloudfunctions2_function',
    );
  }, 180_000);
});
