// The GPU image's CUDA libraries, proven without Docker: pip installs trainer/cuda-requirements.txt exactly as the
// Dockerfile's `cuda` stage does (hashes required, no dependencies, binary wheels), into a temporary folder standing
// for the image's /opt/cuda11, and every library libtensorflow 2.9.1 loads by soname must lie in a folder of the
// Dockerfile's LD_LIBRARY_PATH. The wheels weigh 1.7 GB: the test runs where TRENDCAST_REQUIRE_PYPI=1 (CI).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSettings } from '../../shared/settings.ts';

const ROOT = join(import.meta.dirname, '../..');
const dockerfile = readFileSync(join(ROOT, 'trainer/Dockerfile'), 'utf8');

/** What libtensorflow 2.9.1's GPU build dlopens by name (TensorFlow's dso_loader for CUDA 11.2 / cuDNN 8). */
const LOADED_BY_LIBTENSORFLOW = [
  'libcudart.so.11.0',
  'libcublas.so.11',
  'libcublasLt.so.11',
  'libcufft.so.10',
  'libcurand.so.10',
  'libcusolver.so.11',
  'libcusparse.so.11',
  'libcudnn.so.8',
];

const skip = readSettings().TRENDCAST_REQUIRE_PYPI
  ? undefined
  : 'it installs 1.7 GB of NVIDIA wheels from PyPI: run it with TRENDCAST_REQUIRE_PYPI=1 (CI does)';
if (skip) console.warn(`skipping the CUDA library test: ${skip}`);

describe.skipIf(skip)("the GPU image's CUDA 11 libraries, installed from PyPI as its Dockerfile does", () => {
  const target = mkdtempSync(join(tmpdir(), 'cuda11-'));
  afterAll(() => rmSync(target, { recursive: true, force: true }));

  it('puts every library libtensorflow 2.9.1 loads under the LD_LIBRARY_PATH the image sets', () => {
    const install = dockerfile.match(/pip install (.+) --target (\S+) \\\n\s+-r (\S+)/);
    expect(install, 'the cuda stage pip install').not.toBeNull();
    const [, options, imageTarget] = install!;
    execFileSync(
      'python3',
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        ...options!.split(/\s+/),
        '--target',
        target,
        '-r',
        'trainer/cuda-requirements.txt',
      ],
      { cwd: ROOT, stdio: 'pipe', env: { ...process.env, PIP_BREAK_SYSTEM_PACKAGES: '1' } },
    );
    // COPY --from=cuda <imageTarget>/nvidia <dir>: where the stage's folder lands in the image.
    const copy = dockerfile.match(new RegExp(`^COPY --from=cuda ${imageTarget}/(\\S+) (\\S+)$`, 'm'));
    expect(copy, 'the COPY of the CUDA libraries').not.toBeNull();
    const [, copied, imageDir] = copy!;
    const ldPath = dockerfile.match(/^ENV LD_LIBRARY_PATH=(\S+)$/m)?.[1];
    expect(ldPath).toBeDefined();
    const here = ldPath!.split(':').map((dir) => {
      expect(dir.startsWith(`${imageDir}/`), dir).toBe(true);
      return join(target, copied!, dir.slice(imageDir!.length + 1));
    });
    for (const library of LOADED_BY_LIBTENSORFLOW) {
      const found = here.filter((dir) => existsSync(join(dir, library)));
      expect(found, `${library} under LD_LIBRARY_PATH`).toHaveLength(1);
    }
  }, 600_000);
});
