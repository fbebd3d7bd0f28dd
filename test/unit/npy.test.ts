import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeNpy, encodeNpy } from '../../shared/npy.ts';

describe('npy', () => {
  it('round-trips float32 and int32 arrays with their shapes', () => {
    const x = {
      dtype: 'float32' as const,
      shape: [2, 3, 2],
      data: Float32Array.from({ length: 12 }, (_, i) => i / 3),
    };
    const back = decodeNpy(encodeNpy(x));
    expect(back.shape).toEqual([2, 3, 2]);
    expect(Array.from(back.data)).toEqual(Array.from(x.data));
    const y = decodeNpy(encodeNpy({ dtype: 'int32', shape: [4], data: Int32Array.from([1, 0, 1, 1]) }));
    expect(y.shape).toEqual([4]);
    expect(Array.from(y.data)).toEqual([1, 0, 1, 1]);
  });

  it('pads the header to a multiple of 64 bytes as numpy requires', () => {
    const bytes = encodeNpy({ dtype: 'float64', shape: [5], data: new Float64Array(5) });
    expect((10 + bytes.readUInt16LE(8)) % 64).toBe(0);
  });

  it('is readable by numpy.load when numpy is installed', (ctx) => {
    try {
      execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    } catch {
      ctx.skip(); // numpy is not part of the Node toolchain; .ci/run installs it
    }
    const dir = mkdtempSync(join(tmpdir(), 'npy-'));
    const file = join(dir, 'x.npy');
    writeFileSync(
      file,
      encodeNpy({ dtype: 'float32', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4.5]) }),
    );
    const out = execFileSync('python3', [
      '-c',
      `import numpy as np; a=np.load(${JSON.stringify(file)}); print(a.dtype, a.shape, a.sum())`,
    ]);
    expect(out.toString().trim()).toBe('float32 (2, 2) 10.5');
  });

  it('refuses bytes that are not .npy', () => {
    expect(() => decodeNpy(Buffer.from('hello world, not numpy'), 'X.npy')).toThrow(/X.npy: not a .npy file/);
  });
});
