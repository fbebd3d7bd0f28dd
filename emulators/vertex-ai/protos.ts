// The client library's own protobuf definitions, used both ways: request bodies are read with the proto3 JSON
// mapping (what the REST transport sends: enums as numbers, Durations as "600s"), and every response is written from
// the same message types, so nothing this service answers can have a field the real API does not have.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { protos } from '@google-cloud/aiplatform';
import { fromProto3JSON, type JSONValue, toProto3JSON } from 'proto3-json-serializer';
import protobuf from 'protobufjs';

export type CustomJob = protos.google.cloud.aiplatform.v1.ICustomJob;

const require = createRequire(import.meta.url);
// build/src/index.js -> build/protos/protos.json, the reflection JSON the library's REST transport itself loads.
const protosJson = join(dirname(require.resolve('@google-cloud/aiplatform')), '../protos/protos.json');
const root = protobuf.Root.fromJSON(JSON.parse(readFileSync(protosJson, 'utf8')));

const CustomJobType = root.lookupType('google.cloud.aiplatform.v1.CustomJob');
const ListResponseType = root.lookupType('google.cloud.aiplatform.v1.ListCustomJobsResponse');

/** Plain objects with enum names and int64 as strings, the form jobs are kept in. */
const PLAIN: protobuf.IConversionOptions = { enums: String, longs: String };

/** The first field of `json` that `type` does not have, as the real API names it ("Unknown name ... at ..."). */
function unknownField(type: protobuf.Type, json: unknown, at: string): string | undefined {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return undefined;
  for (const [key, value] of Object.entries(json)) {
    // The library's definitions name fields in lowerCamelCase; JSON may use either that or the proto's snake_case.
    const field = type.fields[key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())];
    if (!field) return `Unknown name "${key}" at '${at}': Cannot find field.`;
    const fieldType = field.resolve().resolvedType;
    // Well-known types (Timestamp, Duration, Struct, ...) have their own JSON forms.
    if (!(fieldType instanceof protobuf.Type) || fieldType.fullName.startsWith('.google.protobuf.')) continue;
    const path = `${at}.${field.name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
    const items = field.map ? Object.values(value ?? {}) : field.repeated ? (value as unknown[]) : [value];
    for (const [i, item] of (items ?? []).entries()) {
      const found = unknownField(fieldType, item, field.repeated ? `${path}[${i}]` : path);
      if (found) return found;
    }
  }
  return undefined;
}

/** A CustomJob from a request body; throws, saying which, on a field or value the proto lacks. */
export function readCustomJob(json: unknown): CustomJob {
  const unknown = unknownField(CustomJobType, json, 'custom_job');
  if (unknown) throw new Error(unknown);
  const message = fromProto3JSON(CustomJobType, json as JSONValue);
  if (!message) throw new Error('the body is not a CustomJob');
  return CustomJobType.toObject(message, PLAIN) as CustomJob;
}

/** A CustomJob as the REST API writes it; `numericEnums` when the client asked for `enum-encoding=int`. */
export function writeCustomJob(job: CustomJob, numericEnums: boolean): JSONValue {
  return toProto3JSON(CustomJobType.fromObject(job), { numericEnums }) as JSONValue;
}

export function writeListResponse(
  jobs: CustomJob[],
  nextPageToken: string,
  numericEnums: boolean,
): JSONValue {
  const message = ListResponseType.fromObject({ customJobs: jobs, nextPageToken });
  return toProto3JSON(message, { numericEnums }) as JSONValue;
}
