import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { API_NAMES } from '../../cdktf/apis.ts';
import { configFrom } from '../../cdktf/stack.ts';
import { Settings } from '../../shared/settings.ts';
import { DEMO_ENV, type Json, resources, synthStack } from './cdktf/synth.ts';

const ROOT = join(import.meta.dirname, '../..');
const ref = (type: string, name: string) => `${type}.${name}`;
const dependsOn = (r: Json): string[] => r.depends_on ?? [];
/** Every resource of the stack with its address. */
const allResources = (tf: Json) =>
  Object.entries(tf.resource as Record<string, Json>).flatMap(([type, byId]) =>
    Object.entries(byId).map(([id, r]) => ({ address: `${type}.${id}`, type, r: r as Json })),
  );

describe('the CDKTF stack', () => {
  const tf = synthStack();

  it('enables every API it touches, and leaves them on when destroyed', () => {
    const services = resources(tf, 'google_project_service');
    expect(services.map((r) => r.service).sort()).toEqual(API_NAMES.map((a) => `${a}.googleapis.com`).sort());
    for (const api of [
      'compute',
      'cloudresourcemanager',
      'cloudbuild',
      'run',
      'eventarc',
      'artifactregistry',
      'aiplatform',
      'firestore',
      'pubsub',
      'cloudscheduler',
      'storage',
      'iam',
      'cloudfunctions',
      'logging',
    ]) {
      expect(services.map((r) => r.service)).toContain(`${api}.googleapis.com`);
    }
    for (const s of services) expect(s.disable_on_destroy).toBe(false);
  });

  // What each resource type calls: it waits for these APIs to be enabled.
  const API_OF_TYPE: Record<string, string[]> = {
    google_storage_bucket: ['storage'],
    google_storage_bucket_iam_member: ['storage'],
    google_pubsub_topic: ['pubsub'],
    google_pubsub_topic_iam_member: ['pubsub'],
    google_pubsub_subscription: ['pubsub'],
    google_pubsub_subscription_iam_member: ['pubsub'],
    google_firestore_database: ['firestore'],
    google_artifact_registry_repository: ['artifactregistry'],
    google_artifact_registry_repository_iam_member: ['artifactregistry'],
    google_service_account: ['iam'],
    google_service_account_iam_member: ['iam'],
    google_project_iam_member: ['cloudresourcemanager'],
    google_cloudfunctions2_function: ['cloudfunctions', 'run', 'cloudbuild', 'artifactregistry', 'logging'],
    google_cloud_run_service_iam_member: ['run'],
    google_cloud_scheduler_job: ['cloudscheduler'],
  };
  const NEEDS_NO_API_OF_ITS_OWN = new Set([
    'google_project_service', // the APIs themselves
    'google_project_service_identity', // each waits for its own API: tested below
    'google_storage_bucket_object', // inside a bucket that waits for storage
    'google_firestore_index', // on a database that waits for firestore
  ]);

  it('makes every resource depend on the APIs it calls', () => {
    for (const { address, type, r } of allResources(tf)) {
      if (NEEDS_NO_API_OF_ITS_OWN.has(type)) continue;
      const apis = API_OF_TYPE[type];
      expect(apis, `${address}: which APIs does a ${type} need?`).toBeDefined();
      for (const api of apis!)
        expect(dependsOn(r), address).toContain(ref('google_project_service', `api-${api}`));
    }
    expect(dependsOn(tf.resource.google_storage_bucket_object['functions-source'])).toEqual([]);
    expect(tf.resource.google_storage_bucket_object['functions-source'].bucket).toMatch(/source-bucket/);
    const triggered = resources(tf, 'google_cloudfunctions2_function').filter((f) => f.event_trigger);
    expect(triggered).toHaveLength(2);
    for (const f of triggered) expect(dependsOn(f)).toContain('google_project_service.api-eventarc');
    expect(dependsOn(tf.data.google_project.project)).toEqual([
      'google_project_service.api-cloudresourcemanager',
    ]);
    expect(dependsOn(tf.data.google_storage_project_service_account['gcs-agent'])).toEqual([
      'google_project_service.api-storage',
    ]);
  });

  it('creates the Pub/Sub, Eventarc and Vertex AI service agents (google-beta) after their APIs', () => {
    const identities = tf.resource.google_project_service_identity;
    expect(Object.keys(identities).sort()).toEqual(['agent-aiplatform', 'agent-eventarc', 'agent-pubsub']);
    for (const [id, identity] of Object.entries(identities as Record<string, Json>)) {
      const api = id.replace('agent-', '');
      expect(identity.service).toBe(`${api}.googleapis.com`);
      expect(identity.provider).toBe('google-beta');
      expect(dependsOn(identity)).toEqual([`google_project_service.api-${api}`]);
    }
    expect(tf.terraform.required_providers['google-beta'].version).toBe(
      tf.terraform.required_providers.google.version,
    );
  });

  it('grants a service agent a role only after the agent exists', () => {
    const grantsTo = (agent: string) =>
      allResources(tf).filter(({ r }) => typeof r.member === 'string' && r.member.includes(`@${agent}.`));
    const cases: Array<[string, string, number]> = [
      // its own role, token creation, 3 dead-letter topics, 3 subscriptions' acks
      ['gcp-sa-pubsub', 'google_project_service_identity.agent-pubsub', 8],
      ['gcp-sa-eventarc', 'google_project_service_identity.agent-eventarc', 1], // its own role
      ['gcp-sa-aiplatform', 'google_project_service_identity.agent-aiplatform', 2], // its own role, image pulls
    ];
    // Vertex AI's custom-code agent exists only after a first job that names no service account (ours all name
    // trendcast-trainer): a grant to it would fail a first apply on a fresh project.
    expect(grantsTo('gcp-sa-aiplatform-cc')).toEqual([]);
    expect(JSON.stringify(tf)).not.toContain('gcp-sa-aiplatform-cc');
    for (const [agent, created, count] of cases) {
      const grants = grantsTo(agent);
      expect(grants.map((g) => g.address)).toHaveLength(count);
      for (const { address, r } of grants) expect(dependsOn(r), address).toContain(created);
    }
    // Agents created on request do not get the role Google grants on first use: the stack grants it.
    const ownRoles = Object.entries(tf.resource.google_project_iam_member as Record<string, Json>)
      .filter(([id]) => id.startsWith('agent-role-'))
      .map(([, r]) => `${r.role} ${r.member.replace(/.*@/, '')}`);
    expect(ownRoles.sort()).toEqual([
      'roles/aiplatform.serviceAgent gcp-sa-aiplatform.iam.gserviceaccount.com',
      'roles/eventarc.serviceAgent gcp-sa-eventarc.iam.gserviceaccount.com',
      'roles/pubsub.serviceAgent gcp-sa-pubsub.iam.gserviceaccount.com',
    ]);
    const pull = tf.resource.google_artifact_registry_repository_iam_member['vertex-pulls-trainer'];
    expect(pull).toMatchObject({
      role: 'roles/artifactregistry.reader',
      member:
        'serviceAccount:service-${data.google_project.project.number}@gcp-sa-aiplatform.iam.gserviceaccount.com',
    });
  });

  it("deploys the Cloud Storage trigger only after the storage agent may publish and Eventarc's agent exists", () => {
    const ingest = tf.resource.google_cloudfunctions2_function['function-ingest'];
    expect(dependsOn(ingest)).toEqual(
      expect.arrayContaining([
        'google_project_iam_member.gcs-agent-publisher',
        'google_project_iam_member.events-receiver',
        'google_project_service_identity.agent-eventarc',
      ]),
    );
    expect(tf.resource.google_project_iam_member['gcs-agent-publisher']).toMatchObject({
      role: 'roles/pubsub.publisher',
      member: 'serviceAccount:${data.google_storage_project_service_account.gcs-agent.email_address}',
    });
    const sweeper = tf.resource.google_cloudfunctions2_function['function-sweeper'];
    expect(dependsOn(sweeper)).toEqual(
      expect.arrayContaining([
        'google_project_iam_member.events-receiver',
        'google_project_service_identity.agent-eventarc',
      ]),
    );
    for (const sub of Object.values(tf.resource.google_pubsub_subscription as Record<string, Json>)) {
      expect(dependsOn(sub)).toEqual(
        expect.arrayContaining([
          'google_service_account_iam_member.pubsub-agent-token',
          'google_pubsub_topic_iam_member.publish-pubsub-agent-requests-dead-letter',
          'google_pubsub_topic_iam_member.publish-pubsub-agent-results-dead-letter',
        ]),
      );
    }
  });

  it('builds every function as the dedicated build account, into the stack repository, after its roles', () => {
    const build = tf.resource.google_service_account['sa-build'];
    expect(build.account_id).toBe('trendcast-build');
    for (const f of resources(tf, 'google_cloudfunctions2_function')) {
      expect(f.build_config.service_account).toBe('${google_service_account.sa-build.id}');
      expect(f.build_config.docker_repository).toBe('${google_artifact_registry_repository.registry.id}');
      expect(dependsOn(f)).toEqual(
        expect.arrayContaining([
          'google_project_iam_member.build-writes-logs',
          'google_artifact_registry_repository_iam_member.build-pushes-images',
          'google_storage_bucket_iam_member.build-reads-source',
        ]),
      );
    }
    // Exactly these roles, each on the narrowest resource: logs (project), the repository, the source bucket, and
    // Cloud Functions' own copy of the source (gcf-v2-sources-<number>-<region>, which exists only after the first
    // function: a project grant conditioned on that bucket's name).
    const held = allResources(tf)
      .filter(({ r }) => r.member === 'serviceAccount:${google_service_account.sa-build.email}')
      .map(({ type, r }) => `${type} ${r.role} ${r.bucket ?? r.repository ?? r.project}`);
    expect(held.sort()).toEqual([
      'google_artifact_registry_repository_iam_member roles/artifactregistry.writer ${google_artifact_registry_repository.registry.name}',
      'google_project_iam_member roles/logging.logWriter demo-project',
      'google_project_iam_member roles/storage.objectViewer demo-project',
      'google_storage_bucket_iam_member roles/storage.objectViewer ${google_storage_bucket.source-bucket.name}',
    ]);
    expect(tf.resource.google_project_iam_member['build-reads-function-sources'].condition).toEqual({
      title: 'Cloud Functions source copies only',
      expression:
        'resource.name.startsWith("projects/_/buckets/gcf-v2-sources-${data.google_project.project.number}-asia-south1")',
    });
    for (const f of resources(tf, 'google_cloudfunctions2_function'))
      expect(dependsOn(f)).toContain('google_project_iam_member.build-reads-function-sources');
  });

  it('creates Firestore with optimistic concurrency, which the training queue relies on (the default is pessimistic)', () => {
    expect(tf.resource.google_firestore_database.firestore.concurrency_mode).toBe('OPTIMISTIC');
  });

  it("indexes the runs collection on (status, deadline) for the sweeper's query of open runs", () => {
    expect(tf.resource.google_firestore_index['index-runs-open']).toMatchObject({
      collection: 'runs',
      query_scope: 'COLLECTION',
      database: '${google_firestore_database.firestore.name}',
      fields: [
        { field_path: 'status', order: 'ASCENDING' },
        { field_path: 'deadline', order: 'ASCENDING' },
      ],
    });
  });

  it('gives every function its settings, typed against the settings schema and valid for it', () => {
    for (const f of resources(tf, 'google_cloudfunctions2_function')) {
      // NODE_OPTIONS is Node's own (ingest's heap cap), not a setting.
      const { NODE_OPTIONS: _node, ...env } = f.service_config.environment_variables as Record<
        string,
        string
      >;
      for (const key of Object.keys(env)) expect(Object.keys(Settings.shape), key).toContain(key);
      // Terraform references stay strings, which every string setting accepts.
      expect(() => Settings.parse(env)).not.toThrow();
      expect(env).toMatchObject({
        TRENDCAST_BACKEND: 'gcp',
        TRENDCAST_MACHINE_TYPE: Settings.parse({}).TRENDCAST_MACHINE_TYPE,
        TRENDCAST_ACCELERATOR_TYPE: Settings.parse({}).TRENDCAST_ACCELERATOR_TYPE,
        TRENDCAST_RUN_DEADLINE_MINUTES: String(Settings.parse({}).TRENDCAST_RUN_DEADLINE_MINUTES),
        TRENDCAST_ON_NO_GPU_QUOTA: 'wait',
        TRENDCAST_JOB_TIMEOUT_MINUTES: '0',
        TRENDCAST_MAX_JOBS: '1',
        TRENDCAST_TRAINER_IMAGE: DEMO_ENV.TRENDCAST_TRAINER_IMAGE,
      });
    }
  });

  it('grants least privilege: bucket-scoped storage, topic-scoped publishing, Vertex only to the queue', () => {
    // The project-level roles of the stack's own accounts (Google's agents hold their own service-agent roles).
    const projectRoles = resources(tf, 'google_project_iam_member')
      .filter((m) => m.member.includes('google_service_account.'))
      .map((m) => `${m.role} ${m.member}`);
    // Storage at project level: only the build account's read of Cloud Functions' source copies, by condition.
    expect(projectRoles.filter((r) => r.startsWith('roles/storage'))).toEqual([
      'roles/storage.objectViewer serviceAccount:${google_service_account.sa-build.email}',
    ]);
    // The training queue starts jobs from the launcher, the collector and the sweeper; the sweeper also watches them.
    expect(projectRoles.filter((r) => r.startsWith('roles/aiplatform')).sort()).toEqual(
      ['collector', 'launcher', 'sweeper']
        .map((a) => `roles/aiplatform.user serviceAccount:\${google_service_account.sa-${a}.email}`)
        .sort(),
    );
    expect(projectRoles.some((r) => /roles\/(owner|editor|artifactregistry)/.test(r))).toBe(false);
    const onBucket = resources(tf, 'google_storage_bucket_iam_member').filter(
      (m) => m.bucket === '${google_storage_bucket.bucket.name}',
    );
    const account = (m: Json) => m.member.match(/sa-([\w-]+)\.email/)![1];
    // Every account that touches the bucket reads it all...
    expect(
      onBucket
        .filter((m) => m.role === 'roles/storage.objectViewer' && !m.condition)
        .map(account)
        .sort(),
    ).toEqual(['collector', 'dead-letter', 'forecaster', 'ingest', 'sweeper', 'trainer']);
    // ...and writes only under the prefixes its code writes: no account writes the whole bucket (issue 22).
    const under = (prefixes: string[]) =>
      prefixes
        .map((p) => `resource.name.startsWith("projects/_/buckets/demo-project-trendcast/objects/${p}")`)
        .join(' || ');
    const writers = Object.fromEntries(
      onBucket.filter((m) => m.role !== 'roles/storage.objectViewer').map((m) => [account(m), m]),
    );
    expect(Object.keys(writers).sort()).toEqual([
      'collector',
      'dead-letter',
      'forecaster',
      'ingest',
      'sweeper',
      'trainer',
    ]);
    for (const [name, prefixes] of Object.entries({
      ingest: ['datasets/', 'runs/', 'index.html'],
      collector: ['runs/', 'models/', 'index.html'],
      sweeper: ['runs/', 'models/', 'index.html'],
      'dead-letter': ['runs/', 'models/', 'index.html'],
      forecaster: ['runs/', 'index.html'],
      trainer: ['runs/'],
    })) {
      expect(writers[name].role, name).toBe('roles/storage.objectUser');
      expect(writers[name].condition?.expression, name).toBe(under(prefixes));
    }
    const writeRoles = /roles\/storage\.(objectUser|objectCreator|objectAdmin|admin|legacyBucketWriter)$/;
    for (const m of onBucket.filter((m) => writeRoles.test(m.role)))
      expect(m.condition, `${m.member} ${m.role}`).toBeDefined();
    const actAs = resources(tf, 'google_service_account_iam_member').filter(
      (m) => m.role === 'roles/iam.serviceAccountUser',
    );
    expect(actAs.map((m) => m.member.match(/sa-(\w+)/)![1]).sort()).toEqual([
      'collector',
      'launcher',
      'sweeper',
    ]);
    for (const m of actAs) expect(m.service_account_id).toMatch(/sa-trainer/);
  });

  it('gives the uploaders TRENDCAST_UPLOADERS names object creation under incoming/ and forecast/ only', () => {
    expect(
      resources(tf, 'google_storage_bucket_iam_member').some((m) => m.role.endsWith('objectCreator')),
    ).toBe(false);
    const withUploaders = synthStack({
      TRENDCAST_UPLOADERS: 'user:ana@example.com, group:traders@example.com',
    });
    const uploaders = resources(withUploaders, 'google_storage_bucket_iam_member').filter((m) =>
      m.role.endsWith('objectCreator'),
    );
    expect(uploaders.map((m) => m.member)).toEqual(['user:ana@example.com', 'group:traders@example.com']);
    for (const m of uploaders)
      expect(m.condition.expression).toBe(
        'resource.name.startsWith("projects/_/buckets/demo-project-trendcast/objects/incoming/") || ' +
          'resource.name.startsWith("projects/_/buckets/demo-project-trendcast/objects/forecast/")',
      );
    expect(() => synthStack({ TRENDCAST_UPLOADERS: 'ana@example.com' })).toThrow(
      /TRENDCAST_UPLOADERS: "ana@example.com" is not an IAM member/,
    );
  });

  it('lets no account of the stack hold, at project level, a role that can act as other accounts (CKV_GCP_49)', () => {
    // checkov's list (AbsGoogleImpersonationRoles): owner, editor, IAM admin and user roles, service-agent roles, ...
    const actsAs =
      /^roles\/(owner|editor|iam\.|.*[sS]erviceAgent$|cloudbuild\.builds\.editor|dataflow\.developer|deploymentmanager\.editor)/;
    const grants = resources(tf, 'google_project_iam_member').filter((m) => actsAs.test(m.role));
    expect(grants).toHaveLength(3); // Pub/Sub's, Eventarc's and Vertex AI's agents, each its own role
    for (const g of grants)
      expect(g.member, g.role).toMatch(
        /^serviceAccount:service-\$\{.*\}@gcp-sa-[a-z-]+\.iam\.gserviceaccount\.com$/,
      );
  });

  it('has no public members and no service-account keys', () => {
    const text = JSON.stringify(tf);
    expect(text).not.toMatch(/allUsers|allAuthenticatedUsers/);
    expect(Object.keys(tf.resource).filter((t) => t.includes('key'))).toEqual([]);
  });

  it('keeps the data bucket on destroy unless asked, and the source bucket never holds anything to keep', () => {
    const bucket = tf.resource.google_storage_bucket.bucket;
    expect(bucket.force_destroy).toBe(false);
    expect(bucket.lifecycle.prevent_destroy).toBe(true);
    expect(tf.resource.google_storage_bucket['source-bucket'].force_destroy).toBe(true);
    expect(tf.resource.google_firestore_database.firestore.deletion_policy).toBe('ABANDON');
    const asked = synthStack({ TRENDCAST_DESTROY_DATA: '1' }).resource.google_storage_bucket.bucket;
    expect(asked.force_destroy).toBe(true);
    expect(asked.lifecycle.prevent_destroy).toBe(false);
    expect(tf.import).toBeUndefined();
  });

  it('adopts the data bucket a previous destroy kept, when told to', () => {
    const again = synthStack({ TRENDCAST_IMPORT_BUCKET: '1' });
    expect(again.import).toEqual([{ to: 'google_storage_bucket.bucket', id: 'demo-project-trendcast' }]);
  });

  it('puts every regional resource in the configured region', () => {
    const other = synthStack({
      TRENDCAST_REGION: 'europe-west4',
      TRENDCAST_TRAINER_IMAGE: 'europe-west4-docker.pkg.dev/demo-project/trendcast/trainer:test',
    });
    const regional = [
      ...resources(other, 'google_cloudfunctions2_function').map((r) => r.location),
      ...resources(other, 'google_cloudfunctions2_function')
        .filter((r) => r.event_trigger)
        .map((r) => r.event_trigger.trigger_region),
      ...resources(other, 'google_firestore_database').map((r) => r.location_id),
      ...resources(other, 'google_artifact_registry_repository').map((r) => r.location),
      ...resources(other, 'google_artifact_registry_repository_iam_member').map((r) => r.location),
      ...resources(other, 'google_cloud_scheduler_job').map((r) => r.region),
      ...resources(other, 'google_cloud_run_service_iam_member').map((r) => r.location),
      other.provider.google[0].region,
      other.provider['google-beta'][0].region,
    ];
    expect(new Set(regional)).toEqual(new Set(['europe-west4']));
    expect(new Set(resources(other, 'google_storage_bucket').map((b) => b.location))).toEqual(
      new Set(['EUROPE-WEST4']),
    );
    expect(JSON.stringify(other)).not.toMatch(/asia-south1/);
  });

  it('keeps state in a local backend, so the JSON works with plain terraform', () => {
    expect(tf.terraform.backend).toEqual({ local: { path: 'terraform.tfstate' } });
    expect(Object.keys(tf.terraform.required_providers).sort()).toEqual(['archive', 'google', 'google-beta']);
  });

  it('outputs what the trainer image build needs: the build account and the staging folder', () => {
    expect(tf.output.build_service_account.value).toBe('${google_service_account.sa-build.id}');
    expect(tf.output.build_staging_dir.value).toBe('gs://demo-project-trendcast-source/cloudbuild');
  });
});

describe('the stack configuration', () => {
  it('refuses to synthesize without a project, saying how to give one', () => {
    expect(() => configFrom({})).toThrow(/TRENDCAST_PROJECT/);
  });

  it('refuses to synthesize without a trainer image, saying which variable and how to build one', () => {
    expect(() => configFrom({ TRENDCAST_PROJECT: 'p' })).toThrow(
      /set the trainer image: TRENDCAST_TRAINER_IMAGE=asia-south1-docker\.pkg\.dev\/p\/trendcast\/trainer:<tag> .*docs\/deploy\.md/,
    );
    expect(() => configFrom({ TRENDCAST_PROJECT: 'p', TRENDCAST_ACCELERATOR_TYPE: 'NONE' })).toThrow(
      /TRENDCAST_CPU_TRAINER_IMAGE=.*trainer-cpu:<tag> .*trainer\/Dockerfile\.cpu/,
    );
    expect(() => configFrom({ ...DEMO_ENV, TRENDCAST_TRAINER_IMAGE: 'not an image' })).toThrow(
      /TRENDCAST_TRAINER_IMAGE: "not an image" is not an image reference/,
    );
  });

  it('gives the functions the CPU image when training on CPU, the GPU image otherwise', () => {
    const images = {
      TRENDCAST_TRAINER_IMAGE: 'asia-south1-docker.pkg.dev/p/trendcast/trainer:1',
      TRENDCAST_CPU_TRAINER_IMAGE: `asia-south1-docker.pkg.dev/p/trendcast/trainer-cpu@sha256:${'a'.repeat(64)}`,
    };
    expect(configFrom({ TRENDCAST_PROJECT: 'p', ...images }).trainerImage).toBe(
      images.TRENDCAST_TRAINER_IMAGE,
    );
    for (const cpu of [{ TRENDCAST_ACCELERATOR_TYPE: 'NONE' }, { TRENDCAST_ACCELERATOR_COUNT: '0' }]) {
      const config = configFrom({ TRENDCAST_PROJECT: 'p', ...images, ...cpu });
      expect(config.trainerImage).toBe(images.TRENDCAST_CPU_TRAINER_IMAGE);
      expect(config.onGpu).toBe(false);
    }
  });

  it('takes the settings from cdktf context when the environment does not give them', () => {
    const context: Record<string, string> = {
      project: 'ctx',
      trainerImage: 'r.example/x/trainer:1',
      region: 'us-east1',
    };
    expect(configFrom({}, (key) => context[key])).toMatchObject({
      project: 'ctx',
      region: 'us-east1',
      trainerImage: 'r.example/x/trainer:1',
    });
  });

  it('refuses a KMS key that is not a key name, saying the expected form', () => {
    expect(() => configFrom({ ...DEMO_ENV, TRENDCAST_KMS_KEY: 'my-key' })).toThrow(
      /TRENDCAST_KMS_KEY: "my-key" is not a key name \(projects\/<p>\/locations\/asia-south1\/keyRings/,
    );
  });
});

describe('npm run synth', () => {
  it('synthesizes offline through the real cdktf CLI', async () => {
    await promisify(execFile)('npm', ['run', 'synth', '--silent'], {
      cwd: ROOT,
      env: { ...process.env, ...DEMO_ENV, CHECKPOINT_DISABLE: '1', CI: '1' },
    });
    const file = join(ROOT, 'cdktf/cdktf.out/stacks/trendcast/cdk.tf.json');
    expect(existsSync(file)).toBe(true);
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')).resource)).toContain(
      'google_cloudfunctions2_function',
    );
  }, 180_000);

  it('has deploy (build, then cdktf deploy) and destroy scripts', () => {
    const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(scripts.deploy).toMatch(/^tsx cdktf\/check-support\.ts && npm run build && .*cdktf deploy/);
    expect(scripts.destroy).toMatch(/cdktf\/destroy\.ts/);
    expect(scripts.synth).toMatch(/cdktf synth/);
  });
});
