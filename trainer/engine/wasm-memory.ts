/**
 * What the trainer's two WebAssembly modules (the LSTM kernel and the layer kernels) share: the WebAssembly API's
 * types, and laying arrays out in a module's memory.
 */

export type WasmMemory = { buffer: ArrayBufferLike; grow(pages: number): number };

// Node has WebAssembly; the project's TypeScript libraries (ES2023, no DOM) do not declare it.
export const wasm = (
  globalThis as unknown as {
    WebAssembly: {
      Module: new (bytes: Uint8Array) => object;
      validate(bytes: Uint8Array): boolean;
      Instance: new (module: object, imports: object) => { exports: unknown };
      Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
    };
  }
).WebAssembly;

export const WASM_PAGE = 65536;

/**
 * Places arrays of `sizes` float32s one after the other from byte offset `base` (each 16-byte aligned), growing the
 * memory when they do not fit, and gives each one's byte offset and a view of it. `check` sees the end offset
 * first, to refuse a layout past a limit before the memory grows.
 */
export function layoutFloats(
  memory: WasmMemory,
  base: number,
  sizes: number[],
  check: (end: number) => void = () => {},
): { offsets: number[]; view: (i: number) => Float32Array } {
  const offsets: number[] = [];
  let end = base;
  for (const size of sizes) {
    offsets.push(end);
    end += Math.ceil((size * 4) / 16) * 16;
  }
  check(end);
  const missing = end - memory.buffer.byteLength;
  if (missing > 0) memory.grow(Math.ceil(missing / WASM_PAGE));
  const buffer = memory.buffer;
  return { offsets, view: (i) => new Float32Array(buffer, offsets[i]!, sizes[i]!) };
}
