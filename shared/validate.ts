import type { z } from 'zod';
import { InputError } from './errors.ts';

/** Parses `value` with `schema`, or throws an InputError naming `where` and each bad field in plain words. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const path = issue.path.length ? issue.path.map(String).join('.') : '(top level)';
    return `${path}: ${issue.message}`;
  });
  throw new InputError(`${where}: ${problems.join('; ')}`);
}

/** JSON.parse with an InputError that names the source. */
export function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`${where}: not valid JSON (${(e as Error).message})`);
  }
}
