import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildCustomJob } from '../../adapters/gcp/job-launcher.ts';
import { DEFAULT_GRID } from '../../shared/config.ts';
import { TrainingRequest } from '../../shared/messages.ts';
import { readSettings } from '../../shared/settings.ts';
import { BACKENDS } from '../../trainer/backend.ts';
import { trendcast } from '../helpers/cli.ts';

// No Docker engine and no Cloud Build here: the images cannot be built in CI. These checks keep the Dockerfiles and
// the build config true to the repo, and run the build config's scripts with recording stand-ins for docker/gcloud.
const ROOT = join(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const DOCKERFILES = { gpu: read('trainer/Dockerfile'), cpu: read('trainer/Dockerfile.cpu') };
const ignored = read('.dockerignore').split('\n').filter(Boolean);
const buildConfigText = read('cloudbuild.yaml');
const buildConfig = parse(buildConfigText) as {
  substitutions: Record<string, string>;
  steps: Array<{ id: string; name: string; entrypoint: string; args: string[] }>;
  images: string[];
  options: { logging: string; env: string[] };
};
const argDefault = (dockerfile: string, name: string) =>
  dockerfile.match(new RegExp(`^ARG ${name}=(\\S+)$`, 'm'))?.[1];

describe('trainer/Dockerfile (GPU)', () => {
  const dockerfile = DOCKERFILES.gpu;

  it('builds on a maintained Ubuntu with Node 24 and no CUDA image, its base a build argument', () => {
    expect(argDefault(dockerfile, 'BASE_IMAGE')).toBe('ubuntu:24.04');
    expect(dockerfile).toMatch(/^FROM \$\{BASE_IMAGE\}$/m);
    expect(dockerfile).not.toMatch(/^(FROM|ARG) .*(nvidia\/cuda|ubuntu20|node:20|bullseye)/m);
    expect(argDefault(dockerfile, 'NODE_IMAGE')).toMatch(/^node:24-/);
    expect(dockerfile).toMatch(/@tensorflow\/tfjs-node-gpu@4\.22\.0/);
    expect(JSON.parse(read('package.json')).dependencies['@tensorflow/tfjs']).toMatch(/4\.22/);
    expect(dockerfile).toMatch(/^ENV TRENDCAST_TFJS_BACKEND=node-gpu /m);
  });

  it('installs the CUDA wheels by hash, without dependencies, and tells the NVIDIA runtime what it needs', () => {
    expect(dockerfile).toMatch(
      /pip install --no-deps --require-hashes --only-binary=:all: --target \/opt\/cuda11 \\\n\s+-r \/tmp\/cuda-requirements\.txt/,
    );
    expect(dockerfile).toMatch(/^COPY trainer\/cuda-requirements\.txt \/tmp\/cuda-requirements\.txt$/m);
    expect(dockerfile).toMatch(/^COPY --from=cuda \/opt\/cuda11\/nvidia \/opt\/nvidia$/m);
    expect(dockerfile).toMatch(
      /^ENV NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility /m,
    );
    const requirements = read('trainer/cuda-requirements.txt');
    const pins = [...requirements.matchAll(/^(nvidia-[\w-]+)==(\S+) \\\n\s+--hash=sha256:[0-9a-f]{64}$/gm)];
    expect(pins.map((p) => p[1]).sort()).toEqual([
      'nvidia-cublas-cu11',
      'nvidia-cuda-runtime-cu11',
      'nvidia-cudnn-cu11',
      'nvidia-cufft-cu11',
      'nvidia-curand-cu11',
      'nvidia-cusolver-cu11',
      'nvidia-cusparse-cu11',
    ]);
    expect(pins.find((p) => p[1] === 'nvidia-cudnn-cu11')![2]).toMatch(/^8\./); // libtensorflow 2.9.1 loads libcudnn.so.8
  });

  it('fails its build, naming the URL, unless the tfjs-node-gpu install downloaded libtensorflow and the addon', () => {
    expect(dockerfile).toMatch(
      /&& node trainer\/check-gpu-addon\.ts node_modules\/@tensorflow\/tfjs-node-gpu \\$/m,
    );
    expect(dockerfile).toMatch(/^COPY trainer\/check-gpu-addon\.ts \.\/trainer\/check-gpu-addon\.ts$/m);
  });
});

describe('trainer/Dockerfile.cpu', () => {
  const dockerfile = DOCKERFILES.cpu;

  it('is Node 24 with tfjs-node, no CUDA, its base a build argument, and insists on the tfjs-node backend', () => {
    expect(argDefault(dockerfile, 'BASE_IMAGE')).toBe('node:24-trixie-slim');
    expect(dockerfile).toMatch(/^FROM \$\{BASE_IMAGE\}$/m);
    expect(dockerfile).not.toMatch(/cuda|tfjs-node-gpu/i);
    // tfjs-node is an optional dependency: `npm ci` without --omit=optional installs it.
    expect(JSON.parse(read('package.json')).optionalDependencies['@tensorflow/tfjs-node']).toMatch(/4\.22/);
    expect(dockerfile).toMatch(/^RUN npm ci --omit=dev \\$/m);
    expect(dockerfile).not.toMatch(/--omit=optional/);
    const backend = dockerfile.match(/^ENV TRENDCAST_TFJS_BACKEND=(\S+)/m)?.[1];
    expect(backend).toBe('node');
    expect(BACKENDS).toContain(backend);
  });
});

describe.each(Object.entries(DOCKERFILES))('the %s Dockerfile', (_kind, dockerfile) => {
  it('records its base image as a label', () => {
    expect(dockerfile).toMatch(/^ARG BASE_IMAGE$/m); // in scope after FROM, for the label
    expect(dockerfile).toMatch(/^LABEL org\.opencontainers\.image\.base\.name="\$\{BASE_IMAGE\}"$/m);
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

  it('copies every folder the CLI imports from, found by following its imports', () => {
    const copied = new Set([...dockerfile.matchAll(/^COPY (\w+) /gm)].map((m) => m[1]));
    const folders = importedFolders('cli/main.ts');
    expect(folders).toContain('trainer');
    for (const folder of ['bin', ...folders]) expect(copied.has(folder), folder).toBe(true);
  });

  it("runs the launcher's job: the entry point with the args the launcher builds parses them as a request", async () => {
    const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    expect(entrypoint).toEqual(['node', 'bin/trendcast.js']);
    const missing = `${pathToFileURL(mkdtempSync(join(tmpdir(), 'no-dataset-'))).href}/`;
    const request = TrainingRequest.parse({
      runId: 'run-dockerfile-check',
      config: { ...DEFAULT_GRID.configs[0]!, epochs: 1 },
      datasetUri: missing,
      outputUri: `${missing}out/`,
    });
    const job = buildCustomJob(request, readSettings({ TRENDCAST_TRAINER_IMAGE: 'image' }));
    const args = job.jobSpec!.workerPoolSpecs![0]!.containerSpec!.args!;
    // The image's entry point with exactly those args: the request parses (a bad one would be an `--request:` error)
    // and training starts, stopping at the dataset, which does not exist here.
    const run = await trendcast(args);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(`error: dataset ${missing}: dataset.json does not exist`);
  });
});

/** The top-level folders of the repository that `entry` imports, statically or dynamically, transitively. */
function importedFolders(entry: string): string[] {
  const seen = new Set<string>();
  const folders = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file) || !existsSync(join(ROOT, file))) return;
    seen.add(file);
    folders.add(file.split('/')[0]!);
    for (const [, spec] of read(file).matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+\.ts)'/g))
      visit(join(dirname(file), spec!));
  };
  visit(entry);
  return [...folders].sort();
}

/** What Cloud Build does to the config's text before running it: `$$` is a literal `$`, `${_X}`/`${PROJECT_ID}` substituted. */
function cloudBuildSubstitute(text: string, values: Record<string, string>): string {
  return text.replace(/\$\$|\$\{(\w+)\}|\$(\w+)/g, (match, braced?: string, bare?: string) => {
    if (match === '$$') return '$';
    const name = (braced ?? bare)!;
    if (!(name in values)) throw new Error(`cloudbuild.yaml uses ${match}, which the build does not define`);
    return values[name]!;
  });
}

describe('cloudbuild.yaml', () => {
  it('defaults to the GPU Dockerfile with the same base the Dockerfile names, and pushes the image it is given', () => {
    expect(buildConfig.substitutions._DOCKERFILE).toBe('trainer/Dockerfile');
    expect(buildConfig.substitutions._BASE_SOURCE).toBe(argDefault(DOCKERFILES.gpu, 'BASE_IMAGE'));
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Cloud Build's substitution syntax
    expect(buildConfig.images).toEqual(['${_IMAGE}']);
    expect(buildConfig.options.logging).toBe('CLOUD_LOGGING_ONLY'); // required with --service-account
    expect(buildConfig.options.env).toContain(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Cloud Build's substitution syntax
      'BASE_COPY=${_REGION}-docker.pkg.dev/${PROJECT_ID}/trendcast/base/${_BASE_SOURCE}',
    );
    expect(buildConfig.steps.map((s) => s.id)).toEqual(['copy-base', 'resolve-digest', 'build']);
  });

  it("runs on Google's maintained builder images (google-cloud-cli, not the superseded cloud-sdk)", () => {
    const images = buildConfig.steps.map((s) => s.name);
    expect(images).toContain('gcr.io/google.com/cloudsdktool/google-cloud-cli:slim');
    expect(buildConfigText).not.toMatch(/cloud-sdk/);
  });

  it('holds no digest that was not read from a registry', () => {
    for (const text of [buildConfigText, ...Object.values(DOCKERFILES)])
      expect(text).not.toMatch(/[0-9a-f]{64}/);
  });

  // The steps' scripts, run as Cloud Build would run them, with `docker` and `gcloud` replaced by scripts that log
  // their arguments: this proves the order (copy, then digest, then build) and the escaping, not the registry.
  function runBuild(options: { copyExists: boolean; dockerfile?: string; baseSource?: string }) {
    const dir = mkdtempSync(join(tmpdir(), 'trendcast-cloudbuild-'));
    const log = join(dir, 'calls.log');
    const digest = `sha256:${'0123456789abcdef'.repeat(4)}`; // stands for what Artifact Registry answers
    const tool = (name: string, body: string) => {
      writeFileSync(join(dir, name), `#!/bin/bash\necho "${name} $*" >> "${log}"\n${body}\n`);
      chmodSync(join(dir, name), 0o755);
    };
    tool('docker', options.copyExists ? 'exit 0' : '[[ "$1 $2" == "pull asia-south1-"* ]] && exit 1; exit 0');
    tool('gcloud', `echo ${digest}`);
    const values: Record<string, string> = {
      PROJECT_ID: 'demo-project',
      LOCATION: 'global', // a build that fell back to the global region still uses the stack's repository
      _REGION: buildConfig.substitutions._REGION!,
      _IMAGE: 'asia-south1-docker.pkg.dev/demo-project/trendcast/trainer:1',
      _DOCKERFILE: options.dockerfile ?? buildConfig.substitutions._DOCKERFILE!,
      _BASE_SOURCE: options.baseSource ?? buildConfig.substitutions._BASE_SOURCE!,
    };
    const env = Object.fromEntries(
      buildConfig.options.env.map((e) => cloudBuildSubstitute(e, values).split(/=(.*)/s).slice(0, 2)),
    );
    for (const step of buildConfig.steps) {
      expect(step.entrypoint).toBe('bash');
      const script = cloudBuildSubstitute(step.args[1]!, values).replaceAll('/workspace/', `${dir}/`);
      execFileSync('bash', [step.args[0]!, script], {
        cwd: ROOT,
        env: { PATH: `${dir}:${process.env.PATH}`, ...env },
      });
    }
    return { calls: readFileSync(log, 'utf8').trim().split('\n'), digest, env };
  }

  it('copies the upstream base into the project registry, reads the copy digest back, builds FROM copy@digest', () => {
    const { calls, digest } = runBuild({ copyExists: false });
    const copy = 'asia-south1-docker.pkg.dev/demo-project/trendcast/base/ubuntu:24.04';
    const pinned = `asia-south1-docker.pkg.dev/demo-project/trendcast/base/ubuntu@${digest}`;
    expect(calls).toEqual([
      `docker pull ${copy}`,
      'docker pull ubuntu:24.04',
      `docker tag ubuntu:24.04 ${copy}`,
      `docker push ${copy}`,
      `gcloud artifacts docker images describe ${copy} --format=value(image_summary.digest)`,
      `docker build -f trainer/Dockerfile --build-arg BASE_IMAGE=${pinned} ` +
        `--label org.opencontainers.image.base.name=${pinned} ` +
        `--label org.opencontainers.image.base.digest=${digest} ` +
        '-t asia-south1-docker.pkg.dev/demo-project/trendcast/trainer:1 .',
    ]);
  });

  it('never touches the upstream tag again once the copy exists', () => {
    const { calls } = runBuild({ copyExists: true });
    expect(calls.filter((c) => c.includes(' ubuntu:24.04'))).toEqual([]);
    expect(calls.at(-1)).toMatch(/^docker build .*BASE_IMAGE=asia-south1-docker\.pkg\.dev\/.*@sha256:/);
  });

  it('builds the CPU image the same way from the Node base', () => {
    const { calls } = runBuild({
      copyExists: false,
      dockerfile: 'trainer/Dockerfile.cpu',
      baseSource: argDefault(DOCKERFILES.cpu, 'BASE_IMAGE')!,
    });
    expect(calls).toContain('docker pull node:24-trixie-slim');
    expect(calls.at(-1)).toMatch(
      /^docker build -f trainer\/Dockerfile\.cpu --build-arg BASE_IMAGE=asia-south1-docker\.pkg\.dev\/demo-project\/trendcast\/base\/node@sha256:/,
    );
  });

  it('fails the build when the registry answers no digest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trendcast-cloudbuild-'));
    writeFileSync(join(dir, 'gcloud'), '#!/bin/bash\necho ""\n');
    chmodSync(join(dir, 'gcloud'), 0o755);
    const step = buildConfig.steps.find((s) => s.id === 'resolve-digest')!;
    const script = cloudBuildSubstitute(step.args[1]!, {}).replaceAll('/workspace/', `${dir}/`);
    expect(() =>
      execFileSync('bash', ['-euc', script], {
        env: { PATH: `${dir}:${process.env.PATH}`, BASE_COPY: 'r/base/x:1' },
        stdio: 'pipe',
      }),
    ).toThrow(/no digest for r\/base\/x:1/);
  });
});

describe('trainer/check-gpu-addon.ts (run by the GPU build)', () => {
  const layout = (files: string[]) => {
    const dir = mkdtempSync(join(tmpdir(), 'tfjs-node-gpu-'));
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({
        version: '4.22.0',
        binary: {
          module_path: './lib/napi-v{napi_build_version}',
          host: 'https://storage.googleapis.com/tf-builds/pre-built-binary',
          remote_path: './napi-v{napi_build_version}/{version}/',
        },
      }),
    );
    for (const file of files) {
      mkdirSync(join(dir, dirname(file)), { recursive: true });
      writeFileSync(join(dir, file), '');
    }
    return dir;
  };
  const check = (dir: string) =>
    spawnSync(process.execPath, [join(ROOT, 'trainer/check-gpu-addon.ts'), dir], { encoding: 'utf8' });

  it('passes a downloaded install, with plain node as the image runs it', () => {
    const run = check(layout(['deps/lib/libtensorflow.so.2', 'lib/napi-v8/tfjs_binding.node']));
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('fails, naming each URL, when a download did not arrive or the addon was compiled instead', () => {
    const missing = check(layout([]));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(
      'libtensorflow 2.9.1 (GPU) is missing: its download from https://storage.googleapis.com/tensorflow/libtensorflow/libtensorflow-gpu-linux-x86_64-2.9.1.tar.gz failed',
    );
    expect(missing.stderr).toContain(
      'the prebuilt addon is missing: its download from https://storage.googleapis.com/tf-builds/pre-built-binary/napi-v8/4.22.0/GPU-linux-4.22.0.tar.gz failed',
    );
    const compiled = check(
      layout([
        'deps/lib/libtensorflow.so.2',
        'lib/napi-v8/tfjs_binding.node',
        'build/Release/tfjs_binding.node',
      ]),
    );
    expect(compiled.status).toBe(1);
    expect(compiled.stderr).toMatch(
      /^error: @tensorflow\/tfjs-node-gpu: the addon was compiled from source/m,
    );
  });
});
