// The .npy format (version 1.0), written by hand: it is a 10-line header plus raw little-endian data,
// and the maintained npm readers are either abandoned or pull in a numeric stack we do not need.
import { InputError } from './errors.ts';

export type NpyDtype = 'float32' | 'float64' | 'int32' | 'uint8';
export type NpyArray = {
  dtype: NpyDtype;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | Uint8Array;
};

const DESCR: Record<NpyDtype, string> = { float32: '<f4', float64: '<f8', int32: '<i4', uint8: '|u1' };
const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

/** The .npy header (magic, version 1.0, the padded dict) of a C-order array: its data follows as raw bytes. */
export function npyHeader(dtype: NpyDtype, shape: readonly number[]): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // magic(6) + version(2) + header length(2) + header + '\n' is padded to a multiple of 64.
  const unpadded = 10 + header.length + 1;
  header += `${' '.repeat((64 - (unpadded % 64)) % 64)}\n`;
  const head = Buffer.alloc(10);
  MAGIC.copy(head, 0);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1')]);
}

/** Encodes a C-order array as .npy bytes, readable by `numpy.load`. */
export function encodeNpy(array: NpyArray): Buffer {
  const size = array.shape.reduce((a, b) => a * b, 1);
  if (size !== array.data.length)
    throw new Error(`npy: shape ${array.shape} does not hold ${array.data.length} values`);
  const body = Buffer.from(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  return Buffer.concat([npyHeader(array.dtype, array.shape), body]);
}

/** Decodes .npy bytes (versions 1-3, little-endian, C order) of the dtypes above. */
export function decodeNpy(bytes: Uint8Array, where = 'npy'): NpyArray {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw new InputError(`${where}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.subarray(start, start + headerLen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  const dtype = (Object.keys(DESCR) as NpyDtype[]).find((k) => DESCR[k] === descr);
  if (!dtype || fortran !== 'False' || shapeText === undefined) {
    throw new InputError(`${where}: unsupported .npy header ${header.trim()}`);
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const size = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  const raw = buf.subarray(offset);
  const width = { float32: 4, float64: 8, int32: 4, uint8: 1 }[dtype];
  if (raw.length !== size * width)
    throw new InputError(`${where}: expected ${size} values, found ${raw.length / width}`);
  const copy = new Uint8Array(raw); // aligned copy
  const data =
    dtype === 'float32'
      ? new Float32Array(copy.buffer)
      : dtype === 'float64'
        ? new Float64Array(copy.buffer)
        : dtype === 'int32'
          ? new Int32Array(copy.buffer)
          : copy;
  return { dtype, shape, data };
}
