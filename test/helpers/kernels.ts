import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** What `npm run build:kernels` builds from an AssemblyScript config (and target) under trainer/engine/kernels, afresh. */
export function freshKernelBuild(config: string, target = 'release'): Buffer {
  const out = join(mkdtempSync(join(tmpdir(), 'kernel-build-')), 'kernel.wasm');
  execFileSync(
    process.execPath,
    [
      join(ROOT, 'node_modules/assemblyscript/bin/asc.js'),
      '--config',
      join(ROOT, 'trainer/engine/kernels', config),
      '--target',
      target,
      '--outFile',
      out,
    ],
    { cwd: ROOT, stdio: 'pipe' },
  );
  return readFileSync(out);
}
