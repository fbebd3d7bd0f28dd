// `npm run build` makes a folder Cloud Functions gen2 can deploy: `npm ci` installs it from its own lockfile (as
// Cloud Build's Node.js buildpack does), and the compiled functions load under the real `functions-framework` CLI
// (as the nodejs24 runtime starts them) and answer a binary-mode CloudEvent.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../emulators/harness.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('the Cloud Functions build', () => {
  // Outside the work tree, installed from the npm registry with the folder's own lockfile, as Cloud Build would.
  const tmp = mkdtempSync(join(tmpdir(), 'functions-build-'));
  const out = join(tmp, 'functions');
  let server: ChildProcess | undefined;

  beforeAll(() => {
    execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build-functions.ts', out], {
      cwd: ROOT,
      stdio: 'pipe',
    });
    execFileSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], { cwd: out, stdio: 'pipe' });
  }, 300_000);

  afterAll(() => {
    server?.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  });

  it('writes a package.json with main, ESM and the runtime dependencies the code imports', () => {
    const manifest = JSON.parse(readFileSync(join(out, 'package.json'), 'utf8'));
    expect(manifest).toMatchObject({ type: 'module', main: 'functions/index.js' });
    expect(Object.keys(manifest.dependencies)).toEqual(
      expect.arrayContaining([
        '@google-cloud/functions-framework',
        '@google-cloud/storage',
        '@google-cloud/pubsub',
        '@google-cloud/firestore',
        '@google-cloud/aiplatform',
      ]),
    );
    expect(manifest.dependencies).not.toHaveProperty('vitest');
    expect(manifest.engines).toEqual({ node: '24' });
    // npm ci installed exactly the locked versions: the root lock's, which every test ran on.
    const rootLock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
    const installed = JSON.parse(readFileSync(join(out, 'node_modules/.package-lock.json'), 'utf8'));
    for (const [path, pkg] of Object.entries<{ version: string }>(installed.packages))
      expect(pkg.version, path).toBe(rootLock.packages[path].version);
    expect(readFileSync(join(out, 'functions/index.js'), 'utf8')).not.toMatch(/from ['"][^'"]+\.ts['"]/);
  });

  it('serves the ingest target under the functions-framework CLI and answers a CloudEvent', async () => {
    const port = await freePort();
    // The framework the folder installed, as the runtime starts it (the functions register with that copy).
    const cli = join(out, 'node_modules/@google-cloud/functions-framework/build/src/main.js');
    let output = '';
    server = spawn(
      process.execPath,
      [cli, '--target=ingest', '--signature-type=cloudevent', `--port=${port}`, `--source=${out}`],
      { env: { ...process.env, GOOGLE_CLOUD_PROJECT: 'build-test', TRENDCAST_BUCKET: 'b' }, stdio: 'pipe' },
    );
    server.stdout!.on('data', (c: Buffer) => (output += c));
    server.stderr!.on('data', (c: Buffer) => (output += c));
    const deadline = Date.now() + 30_000;
    let status = 0;
    while (Date.now() < deadline && !status) {
      status = await fetch(`http://127.0.0.1:${port}/`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'ce-specversion': '1.0',
          'ce-id': '1',
          'ce-type': 'google.cloud.storage.object.v1.finalized',
          'ce-source': '//storage.googleapis.com/projects/_/buckets/b',
          'ce-subject': 'objects/elsewhere/notes.txt',
        },
        // Not under incoming/: ingest ignores it without touching any Google service.
        body: JSON.stringify({ bucket: 'b', name: 'elsewhere/notes.txt', generation: '1' }),
      })
        .then((r) => r.status)
        .catch(() => 0);
      if (!status) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status, output).toBe(204);
    expect(output).toMatch(/"severity":"DEBUG","message":"ignoring elsewhere\/notes.txt/);
  });
});
