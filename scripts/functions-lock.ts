// The functions' package-lock.json, cut from the repository's: exactly the packages the functions' dependencies
// reach, at the paths, versions and integrity hashes the root lock (and so every test) installed. Cloud Build's
// Node.js buildpack runs `npm ci` when a lockfile is present, so a deploy installs nothing that no test ran.
// Written here rather than with `npm install --package-lock-only`, which would resolve `^` ranges afresh.

/** One package of a lockfile v3 (`packages["node_modules/..."]`); only the fields read here are typed. */
export interface LockedPackage {
  version?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  peer?: boolean;
  [field: string]: unknown;
}

export interface Lockfile {
  name: string;
  version: string;
  lockfileVersion: number;
  requires?: boolean;
  packages: Record<string, LockedPackage>;
}

/** Where Node finds `name` from the package at `from` ('' for the root): its own node_modules, then each parent's. */
export function resolveLocked(
  packages: Record<string, LockedPackage>,
  from: string,
  name: string,
): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!dir) return undefined;
    const parent = dir.lastIndexOf('/node_modules/');
    dir = parent < 0 ? '' : dir.slice(0, parent);
  }
}

/** Each dependency of a locked package, and whether a missing one is allowed (optional, or an optional peer). */
function edges(pkg: LockedPackage): Array<{ name: string; optional: boolean }> {
  return [
    ...Object.keys(pkg.dependencies ?? {}).map((name) => ({ name, optional: false })),
    ...Object.keys(pkg.optionalDependencies ?? {}).map((name) => ({ name, optional: true })),
    ...Object.keys(pkg.peerDependencies ?? {}).map((name) => ({
      name,
      optional: pkg.peerDependenciesMeta?.[name]?.optional === true,
    })),
  ];
}

/**
 * The lockfile of a package named `name` whose dependencies are `dependencies` (ranges as the root's package.json
 * has them), holding every package they reach in `root`, unchanged but for the dev/optional flags, which are
 * recomputed for this smaller tree (a package only the root's devDependencies shared is a plain dependency here).
 */
export function deriveLockfile(
  root: Lockfile,
  manifest: { name: string; version: string; dependencies: Record<string, string> },
): Lockfile {
  const { packages } = root;
  /** path -> whether every way of reaching it so far is optional */
  const reached = new Map<string, boolean>();
  const pending: Array<{ path: string; optional: boolean }> = [];
  const visit = (from: string, name: string, optional: boolean) => {
    const path = resolveLocked(packages, from, name);
    if (!path) {
      if (optional) return;
      throw new Error(`package-lock.json has no ${name} for ${from || 'the root'}: run npm install`);
    }
    const before = reached.get(path);
    if (before === false || (before === true && optional)) return; // already reached at least this firmly
    reached.set(path, optional);
    pending.push({ path, optional });
  };
  for (const name of Object.keys(manifest.dependencies)) visit('', name, false);
  while (pending.length > 0) {
    const { path, optional } = pending.pop()!;
    for (const edge of edges(packages[path]!)) visit(path, edge.name, optional || edge.optional);
  }

  const derived: Record<string, LockedPackage> = {
    '': { name: manifest.name, version: manifest.version, dependencies: manifest.dependencies },
  };
  for (const path of [...reached.keys()].sort()) {
    const {
      dev: _dev,
      devOptional: _devOptional,
      optional: _optional,
      peer: _peer,
      ...pkg
    } = packages[path]!;
    derived[path] = reached.get(path) ? { ...pkg, optional: true } : pkg;
  }
  return {
    name: manifest.name,
    version: manifest.version,
    lockfileVersion: 3,
    requires: true,
    packages: derived,
  };
}
