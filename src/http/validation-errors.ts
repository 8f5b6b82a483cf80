import type { FastifySchemaValidationError, FastifyServerOptions } from 'fastify';
import type { FieldError } from '../domain/validation-error.js';

type SchemaErrorFormatter = NonNullable<FastifyServerOptions['schemaErrorFormatter']>;
/** What failed validation: `body`, `querystring`, `params` or `headers`. */
type SchemaErrorDataVar = Parameters<SchemaErrorFormatter>[1];

/** Values listed in a "must be one of" message before the rest are left as "…". */
const MAX_LISTED_VALUES = 12;

/** A field's path as the API names it: `rules.0.trigger`, not `/rules/0/trigger`. */
function fieldOf(e: FastifySchemaValidationError, dataVar: SchemaErrorDataVar): string {
  // JSON Pointer escapes (RFC 6901 §4): `~1` is `/`, `~0` is `~`.
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
  const missing = e.params.missingProperty ?? e.params.additionalProperty;
  if (typeof missing === 'string') path.push(missing);
  // The whole body or query is wrong (a body that is no object): name it.
  return path.join('.') || dataVar;
}

const A_TYPE: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  null: 'null',
};

const COMPARED: Record<string, string> = {
  '>=': 'at least',
  '<=': 'at most',
  '>': 'more than',
  '<': 'less than',
};

function plural(n: unknown, one: string): string {
  return `${n} ${one}${n === 1 ? '' : 's'}`;
}

function listed(values: unknown[]): string {
  const shown = values.slice(0, MAX_LISTED_VALUES).map((v) => String(v));
  return values.length > MAX_LISTED_VALUES ? `${shown.join(', ')}, …` : shown.join(', ');
}

/** What a keyword's failure asks of the value, as a person would write it. */
function messageOf(e: FastifySchemaValidationError): string {
  const p = e.params;
  switch (e.keyword) {
    case 'required':
      return 'is required';
    case 'additionalProperties':
      return 'is not a field this accepts';
    case 'type':
      return `must be ${String(p.type)
        .split(',')
        .map((t) => A_TYPE[t] ?? t)
        .join(' or ')}`;
    case 'const':
      return `must be ${String(p.allowedValue)}`;
    case 'enum':
      return `must be one of: ${listed(p.allowedValues as unknown[])}`;
    case 'minLength':
      return p.limit === 1
        ? 'must not be empty'
        : `must be at least ${plural(p.limit, 'character')}`;
    case 'maxLength':
      return `must be at most ${plural(p.limit, 'character')}`;
    case 'minItems':
      return p.limit === 1 ? 'must not be empty' : `must hold at least ${plural(p.limit, 'item')}`;
    case 'maxItems':
      return `must hold at most ${plural(p.limit, 'item')}`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `must be ${COMPARED[String(p.comparison)] ?? p.comparison} ${String(p.limit)}`;
    case 'pattern':
      return `must match ${String(p.pattern)}`;
    case 'format':
      return `must be a valid ${String(p.format)}`;
    default:
      return e.message ?? 'is not valid';
  }
}

/**
 * One message for a union (`anyOf`/`oneOf`) from what its branches asked: Ajv reports each
 * branch apart, so `group_by=week` read "must be equal to constant" once per allowed value.
 */
function unionMessage(branches: FastifySchemaValidationError[]): string {
  const values = branches.filter((b) => b.keyword === 'const').map((b) => b.params.allowedValue);
  const asks = [...new Set(branches.filter((b) => b.keyword !== 'const').map(messageOf))];
  if (values.length > 0) asks.push(`must be one of: ${listed(values)}`);
  // "must be an integer, or one of: a, b" rather than "must be …, or must be …".
  const alike = asks.every((m) => m.startsWith('must be '));
  return asks.map((m, i) => (alike && i > 0 ? m.slice('must be '.length) : m)).join(', or ');
}

/**
 * The schema's complaints as the API reports them: one per field, in the words of the
 * contract ("group_by must be one of: day, campaign_id, …") rather than Ajv's.
 */
export function readableErrors(
  errors: readonly FastifySchemaValidationError[],
  dataVar: SchemaErrorDataVar,
): FieldError[] {
  const unions = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf');
  const inUnion = (e: FastifySchemaValidationError) =>
    unions.some((u) => u !== e && e.schemaPath.startsWith(`${u.schemaPath}/`));
  const out: FieldError[] = [];
  for (const e of errors) {
    if (inUnion(e)) continue;
    const field = fieldOf(e, dataVar);
    if (out.some((f) => f.field === field)) continue;
    const message =
      e.keyword === 'anyOf' || e.keyword === 'oneOf'
        ? unionMessage(errors.filter((b) => b.schemaPath.startsWith(`${e.schemaPath}/`)))
        : messageOf(e);
    out.push({ field, message });
  }
  return out;
}

/**
 * Fastify's `schemaErrorFormatter`: the 400's message names each bad field once. Fastify
 * then hangs the list it passed here on the error as `validation`, and errors.ts answers one
 * `{field, message}` per entry of it; the list is rewritten in place to one entry per field,
 * so that the body's `errors` read the same way and keep their shape.
 */
export const schemaErrorFormatter: SchemaErrorFormatter = (errors, dataVar) => {
  const fields = readableErrors(errors, dataVar);
  errors.splice(
    0,
    errors.length,
    ...fields.map((f) => ({
      keyword: 'readable',
      // errors.ts reads the field from the path after its leading slash.
      instancePath: `/${f.field}`,
      schemaPath: '',
      params: {},
      message: f.message,
    })),
  );
  return new Error(fields.map((f) => `${f.field} ${f.message}`).join('; '));
};
