import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Storage } from '@google-cloud/storage';
import { InputError, NotFoundError } from '../../shared/errors.ts';
import type { ObjectStore } from '../../shared/ports.ts';
import { deriveRunId } from '../../shared/run-id.ts';

/**
 * The Storage client, pointed at `STORAGE_EMULATOR_HOST` when it is set. The Node client takes that variable verbatim as
 * its JSON API base URL but derives upload URLs from `apiEndpoint`; fake-gcs-server serves the JSON API under
 * `/storage/v1`, so set both from the emulator's origin (any of `host:port`, `http://host:port[/storage/v1]` works).
 */
export function storageClient(
  emulatorHost = process.env.STORAGE_EMULATOR_HOST,
  projectId = process.env.GOOGLE_CLOUD_PROJECT,
): Storage {
  if (!emulatorHost) return new Storage();
  const origin = new URL(emulatorHost.includes('://') ? emulatorHost : `http://${emulatorHost}`).origin;
  const storage = new Storage({ apiEndpoint: origin, ...(projectId ? { projectId } : {}) });
  storage.baseUrl = `${origin}/storage/v1`;
  return storage;
}

/** The run id a CSV just uploaded to `key` gets: ingest derives it from the object's generation. */
export async function runIdOfUpload(bucket: string, key: string): Promise<string> {
  const [metadata] = await storageClient().bucket(bucket).file(key).getMetadata();
  return deriveRunId(bucket, key, String(metadata.generation));
}

/** The stream's bytes, refused (and the stream destroyed) as soon as they pass `maxBytes`. */
async function readCapped(stream: Readable, maxBytes: number, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > maxBytes)
        throw new InputError(
          `${key}: more than ${maxBytes} bytes, over the upload limit of ${maxBytes} bytes`,
        );
      chunks.push(chunk);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks, total);
}

const isNotFound = (error: unknown) => (error as { code?: number }).code === 404;

/**
 * A Cloud Storage bucket. `STORAGE_EMULATOR_HOST` points the client at an emulator (fake-gcs-server).
 * Every upload is a single request: GCS makes an object visible only once it is complete, so writes are atomic.
 */
export class GcsObjectStore implements ObjectStore {
  readonly baseUri: string;
  private readonly storage: Storage;

  constructor(
    readonly bucket: string,
    storage?: Storage,
  ) {
    this.storage = storage ?? storageClient();
    this.baseUri = `gs://${bucket}/`;
  }

  private file(key: string) {
    return this.storage.bucket(this.bucket).file(key);
  }

  async read(key: string): Promise<Buffer> {
    try {
      // Raw bytes: the client would otherwise gunzip an object stored with `Content-Encoding: gzip`.
      const [data] = await this.file(key).download({ decompress: false });
      return data;
    } catch (error) {
      if (isNotFound(error))
        throw new NotFoundError(`${this.baseUri}${key}: no such object`, { cause: error });
      throw error;
    }
  }

  async readLimited(key: string, maxBytes: number, options: { generation?: string } = {}): Promise<Buffer> {
    // A versioned bucket keeps every generation: metadata and bytes come from the one the caller names.
    const file = options.generation
      ? this.storage.bucket(this.bucket).file(key, { generation: options.generation })
      : this.file(key);
    const where = `${this.baseUri}${key}${options.generation ? `#${options.generation}` : ''}`;
    try {
      const [metadata] = await file.getMetadata();
      // The client's download() gunzips such an object transparently, so a 200 KB object became 200 MB of text past
      // every size check; its stored bytes are compressed, not CSV, so it is refused by what it says it is.
      if (metadata.contentEncoding)
        throw new InputError(
          `${key}: stored with Content-Encoding: ${metadata.contentEncoding}; upload the file itself, uncompressed (no gsutil cp -z/-Z, no gzip: true)`,
        );
      const size = Number(metadata.size);
      if (size > maxBytes)
        throw new InputError(`${key}: ${size} bytes is over the upload limit of ${maxBytes} bytes`);
      // The generation just checked, read raw, counted as it streams: the cap holds whatever the metadata said.
      const checked = this.storage.bucket(this.bucket).file(key, { generation: metadata.generation! });
      return await readCapped(checked.createReadStream({ decompress: false }), maxBytes, key);
    } catch (error) {
      if (isNotFound(error)) throw new NotFoundError(`${where}: no such object`, { cause: error });
      throw error;
    }
  }

  async write(key: string, data: Buffer | string, contentType?: string): Promise<void> {
    // resumable: false sends one request; the object appears whole or not at all.
    await this.file(key).save(typeof data === 'string' ? Buffer.from(data) : data, {
      resumable: false,
      ...(contentType ? { contentType } : {}),
    });
  }

  async writeStream(
    key: string,
    chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
    contentType?: string,
  ): Promise<void> {
    // One streamed upload request: the object appears only once the last chunk is in, whole or not at all.
    await pipeline(
      Readable.from(chunks, { objectMode: false }),
      this.file(key).createWriteStream({ resumable: false, ...(contentType ? { contentType } : {}) }),
    );
  }

  async exists(key: string): Promise<boolean> {
    const [exists] = await this.file(key).exists();
    return exists;
  }

  async list(prefix: string): Promise<string[]> {
    const [files] = await this.storage.bucket(this.bucket).getFiles({ prefix, autoPaginate: true });
    return files.map((f) => f.name).sort();
  }

  async copy(fromKey: string, toKey: string): Promise<void> {
    await this.file(fromKey).copy(this.file(toKey));
  }

  async delete(key: string): Promise<void> {
    await this.file(key).delete({ ignoreNotFound: true });
  }
}
