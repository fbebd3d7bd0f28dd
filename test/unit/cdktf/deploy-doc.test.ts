import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Settings } from '../../../shared/settings.ts';

// docs/deploy.md walks a new project to a decided run with only the commands it shows: each of them must exist.
const ROOT = join(import.meta.dirname, '../../..');
const doc = readFileSync(join(ROOT, 'docs/deploy.md'), 'utf8');
const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts as Record<
  string,
  string
>;
const configSource = readFileSync(join(ROOT, 'cdktf/config.ts'), 'utf8');

/** The shell commands of the page's ```sh blocks, continuation lines joined. */
const commands = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)]
  .flatMap((m) => m[1]!.replace(/\\\n\s*/g, '').split('\n'))
  .map((line) => line.replace(/\s+#.*$/, '').trim())
  .filter(Boolean);
const inline = [...doc.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);

const hasGcloud = (() => {
  try {
    execFileSync('gcloud', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('docs/deploy.md', () => {
  it('shows the whole walk: configure, deploy, build the image, upload, read the decision, destroy', () => {
    const order = [
      /^export TRENDCAST_PROJECT=/,
      /^export TRENDCAST_TRAINER_IMAGE=/,
      /^npm run deploy$/,
      /^gcloud builds submit /,
      /^gcloud storage cp samples\/\S+\.csv gs:\/\/\$TRENDCAST_PROJECT-trendcast\/incoming\/$/,
      /^curl .*firestore\.googleapis\.com.*\/documents\/runs"$/,
      /^npm run destroy$/,
    ];
    const positions = order.map((pattern) => commands.findIndex((c) => pattern.test(c)));
    expect(
      positions.every((p) => p >= 0),
      JSON.stringify(commands, null, 1),
    ).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  it('names only npm scripts that exist', () => {
    const named = [...doc.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]!);
    expect(named).toEqual(expect.arrayContaining(['deploy', 'destroy', 'synth', 'build']));
    for (const name of named) expect(scripts[name], `npm run ${name}`).toBeDefined();
  });

  it('passes cdktf deploy only flags it has', async () => {
    const passed = [...doc.matchAll(/npm run deploy -- ((?:--[\w-]+ ?)+)/g)].flatMap((m) =>
      m[1]!.trim().split(' '),
    );
    expect(passed).toEqual(['--auto-approve']);
    const { stdout } = await promisify(execFile)('npx', ['cdktf', 'deploy', '--help'], {
      cwd: join(ROOT, 'cdktf'),
      env: { ...process.env, CHECKPOINT_DISABLE: '1' },
    });
    for (const flag of passed) expect(stdout).toMatch(new RegExp(`${flag}(?![\\w-])`));
  }, 60_000);

  it('names only settings the stack or the functions read, and context keys the stack reads', () => {
    const variables = new Set([...doc.matchAll(/\bTRENDCAST_[A-Z_]+\b/g)].map((m) => m[0]));
    expect(variables.size).toBeGreaterThan(10);
    for (const name of variables) {
      const known = configSource.includes(`'${name}'`) || name in Settings.shape;
      expect(known, name).toBe(true);
    }
    const contextKeys = [...doc.matchAll(/^\| `TRENDCAST_\w+` \(`(\w+)`\)/gm)].map((m) => m[1]!);
    expect(contextKeys.length).toBe(15);
    for (const key of contextKeys) expect(configSource, key).toContain(`'${key}'`);
  });

  it('names only build substitutions cloudbuild.yaml has, and files that exist', () => {
    const build = parse(readFileSync(join(ROOT, 'cloudbuild.yaml'), 'utf8')) as {
      substitutions: Record<string, string>;
      images: string[];
    };
    const known = new Set([...Object.keys(build.substitutions), '_IMAGE']);
    for (const [, name] of doc.matchAll(/\b(_[A-Z_]+)=/g)) expect(known.has(name!), name).toBe(true);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Cloud Build's substitution syntax
    expect(build.images).toEqual(['${_IMAGE}']);
    const paths = inline.filter((t) =>
      /^[\w.-]+(\/[\w.*-]+)*\.(ts|md|yaml|sh|cpu|csv)$|^trainer\/Dockerfile$/.test(t),
    );
    expect(paths.length).toBeGreaterThan(15);
    for (const path of paths.filter((p) => !p.includes('*')))
      expect(existsSync(join(ROOT, path)), path).toBe(true);
    // An upload names a file of the repository; a download (the run report) names an object in the bucket.
    for (const [, source] of doc.matchAll(/gcloud storage cp (\S+)/g))
      if (!source!.startsWith('gs://')) expect(existsSync(join(ROOT, source!)), source).toBe(true);
  });

  // gcloud answers --help offline. CI installs it (the emulators need it); elsewhere without it this is skipped.
  it.skipIf(!hasGcloud && process.env.CI !== 'true')('passes gcloud only flags its commands have', () => {
    const gcloudCommands = commands.flatMap((c) =>
      [...c.matchAll(/(?:^|\$\()gcloud ([^)]*)/g)].map((m) => m[1]!),
    );
    expect(gcloudCommands.length).toBeGreaterThanOrEqual(6);
    for (const command of gcloudCommands) {
      const words = command.split(/\s+/);
      // The command group is the leading plain words (`builds submit`), before flags and arguments.
      const end = words.findIndex((w) => w.startsWith('-') || /[/.$=]/.test(w));
      const group = end === -1 ? words : words.slice(0, end);
      expect(group.length, command).toBeGreaterThanOrEqual(2);
      const flags = words.filter((w) => w.startsWith('--')).map((w) => w.split('=')[0]!);
      const help = execFileSync('gcloud', [...group, '--help'], {
        encoding: 'utf8',
        env: { ...process.env, PAGER: 'cat' },
      });
      for (const flag of flags) {
        expect(help, `gcloud ${group.join(' ')} ${flag}`).toMatch(new RegExp(`${flag}(?![\\w-])`));
      }
    }
  });
});
