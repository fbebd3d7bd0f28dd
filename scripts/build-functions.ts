// `npm run build [-- <outDir>]`: dist/functions/ (or outDir), a Cloud Functions gen2 (nodejs24) source folder.
// The CDKTF stack zips it.
// tsc compiles functions/index.ts and everything it imports (tsconfig.build.json); this script then writes the
// package.json Cloud Build installs from: `main` and exactly the packages the compiled code imports, at the versions
// the repository's package.json pins (a hand-kept list would drift from the code), and its package-lock.json, cut
// from the repository's (scripts/functions-lock.ts).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deriveLockfile, type Lockfile } from './functions-lock.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = resolve(process.argv[2] ?? join(ROOT, 'dist/functions'));

// The folder is emptied first: never let that be the repository or a folder holding it.
if (`${ROOT}`.startsWith(`${OUT}${sep}`) || `${OUT}${sep}` === ROOT)
  throw new Error(`refusing to build into ${OUT}`);
rmSync(OUT, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', OUT],
  {
    cwd: ROOT,
    stdio: 'inherit',
  },
);

const files = (readdirSync(OUT, { recursive: true }) as string[]).filter((f) => f.endsWith('.js'));
const imported = new Set<string>();
for (const file of files) {
  const code = readFileSync(join(OUT, file), 'utf8');
  for (const [, specifier] of code.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g)) {
    if (!specifier || specifier.startsWith('.') || specifier.startsWith('node:')) continue;
    const parts = specifier.split('/');
    imported.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!);
  }
}

const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const dependencies: Record<string, string> = {};
for (const name of [...imported].sort()) {
  const version = root.dependencies[name] ?? root.devDependencies[name];
  if (!version) throw new Error(`the functions import ${name}, which package.json does not list`);
  if (!root.dependencies[name])
    console.warn(`warning: ${name} is a devDependency but the functions import it`);
  dependencies[name] = version;
}

const manifest = {
  name: 'trendcast-functions',
  version: root.version,
  private: true,
  type: 'module',
  main: 'functions/index.js',
  engines: { node: '24' },
  dependencies,
};
writeFileSync(join(OUT, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
const rootLock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as Lockfile;
const lock = deriveLockfile(rootLock, manifest);
writeFileSync(join(OUT, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
console.log(
  `${relative(process.cwd(), OUT) || '.'}: ${files.length} modules; dependencies ${Object.keys(dependencies).join(', ')}; ${Object.keys(lock.packages).length - 1} locked packages`,
);
