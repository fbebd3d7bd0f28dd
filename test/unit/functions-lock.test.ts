import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { deriveLockfile, type Lockfile, resolveLocked } from '../../scripts/functions-lock.ts';

const root = JSON.parse(
  readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8'),
) as Lockfile;
const rootManifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  dependencies: Record<string, string>;
};

describe("the functions' lockfile, cut from the repository's", () => {
  const manifest = { name: 'trendcast-functions', version: '0.1.0', dependencies: rootManifest.dependencies };
  const lock = deriveLockfile(root, manifest);

  it('locks every package at exactly the version and integrity the root lock installed', () => {
    const paths = Object.keys(lock.packages).filter((p) => p !== '');
    expect(paths.length).toBeGreaterThan(100);
    for (const path of paths) {
      expect(lock.packages[path]!.version, path).toBe(root.packages[path]!.version);
      expect(lock.packages[path]!.integrity, path).toBe(root.packages[path]!.integrity);
    }
  });

  it('holds every dependency its packages need (the transitive closure), and nothing only dev tools use', () => {
    expect(lock.packages['']).toEqual({ ...manifest });
    for (const [path, pkg] of Object.entries(lock.packages)) {
      for (const name of Object.keys(pkg.dependencies ?? {}))
        expect(resolveLocked(lock.packages, path, name), `${path || 'root'} -> ${name}`).toBeDefined();
    }
    expect(lock.packages['node_modules/vitest']).toBeUndefined();
    expect(lock.packages['node_modules/cdktf']).toBeUndefined();
    expect(Object.values(lock.packages).some((p) => p.dev || p.devOptional)).toBe(false);
  });

  it("follows Node's resolution: a nested copy wins over the hoisted one, flags are recomputed", () => {
    const tiny: Lockfile = {
      name: 'x',
      version: '1.0.0',
      lockfileVersion: 3,
      packages: {
        '': { name: 'x', version: '1.0.0' },
        'node_modules/a': { version: '1.0.0', dependencies: { b: '^2' }, optionalDependencies: { c: '*' } },
        'node_modules/a/node_modules/b': { version: '2.0.0', dev: true },
        'node_modules/b': { version: '1.0.0' },
        'node_modules/c': { version: '3.0.0', optional: true, dependencies: { d: '*' } },
        'node_modules/d': { version: '4.0.0', devOptional: true },
        'node_modules/e': { version: '5.0.0', dev: true },
      },
    };
    const derived = deriveLockfile(tiny, { name: 'f', version: '0.0.1', dependencies: { a: '^1' } });
    expect(Object.keys(derived.packages).sort()).toEqual([
      '',
      'node_modules/a',
      'node_modules/a/node_modules/b',
      'node_modules/c',
      'node_modules/d',
    ]);
    expect(derived.packages['node_modules/a/node_modules/b']).toEqual({ version: '2.0.0' });
    expect(derived.packages['node_modules/c']!.optional).toBe(true);
    expect(derived.packages['node_modules/d']!.optional).toBe(true);
    expect(() => deriveLockfile(tiny, { name: 'f', version: '0.0.1', dependencies: { zz: '*' } })).toThrow(
      /no zz for the root/,
    );
  });
});
