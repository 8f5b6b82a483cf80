import { type TSchema, Type } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import type { FastifySchemaValidationError } from 'fastify';
import { describe, expect, it } from 'vitest';
import { readableErrors, schemaErrorFormatter } from './validation-errors.js';

/** Ajv as Fastify sets it up for us (app.ts): coercion on, first failure per schema. */
const ajv = new Ajv({ coerceTypes: true, useDefaults: true, removeAdditional: true });

function errorsOf(schema: TSchema, data: unknown): FastifySchemaValidationError[] {
  const validate = ajv.compile(schema);
  if (validate(data)) throw new Error('expected the data to be refused');
  return (validate.errors ?? []) as FastifySchemaValidationError[];
}

const Query = Type.Object({
  env_id: Type.String({ minLength: 1 }),
  group_by: Type.Optional(
    Type.Union(['day', 'campaign_id', 'creative_id'].map((g) => Type.Literal(g))),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
});

describe('readable validation errors', () => {
  it('VE01 a union of values is one message listing them, not one per value', () => {
    expect(
      readableErrors(errorsOf(Query, { env_id: 'e', group_by: 'week' }), 'querystring'),
    ).toEqual([{ field: 'group_by', message: 'must be one of: day, campaign_id, creative_id' }]);
  });

  it('VE02 a missing field is named by itself and "is required"', () => {
    expect(readableErrors(errorsOf(Query, {}), 'querystring')).toEqual([
      { field: 'env_id', message: 'is required' },
    ]);
  });

  it('VE03 types, bounds and lengths in words', () => {
    const cases: [unknown, string][] = [
      [{ env_id: 'e', limit: 'abc' }, 'must be an integer'],
      [{ env_id: 'e', limit: 0 }, 'must be at least 1'],
      [{ env_id: 'e', limit: 5000 }, 'must be at most 1000'],
    ];
    for (const [data, message] of cases)
      expect(readableErrors(errorsOf(Query, data), 'querystring')).toEqual([
        { field: 'limit', message },
      ]);
    expect(readableErrors(errorsOf(Query, { env_id: '' }), 'querystring')).toEqual([
      { field: 'env_id', message: 'must not be empty' },
    ]);
    const Body = Type.Object({
      events: Type.Array(Type.Unknown(), { minItems: 1, maxItems: 2 }),
      name: Type.String({ maxLength: 3 }),
    });
    expect(readableErrors(errorsOf(Body, { events: 5, name: 'x' }), 'body')).toEqual([
      { field: 'events', message: 'must be a list' },
    ]);
    expect(readableErrors(errorsOf(Body, { events: [1, 2, 3], name: 'x' }), 'body')).toEqual([
      { field: 'events', message: 'must hold at most 2 items' },
    ]);
    expect(readableErrors(errorsOf(Body, { events: [1], name: 'long' }), 'body')).toEqual([
      { field: 'name', message: 'must be at most 3 characters' },
    ]);
  });

  it('VE04 nested fields are dotted paths; a body that is no object is named "body"', () => {
    const Body = Type.Object({ rules: Type.Array(Type.Object({ id: Type.Integer() })) });
    expect(readableErrors(errorsOf(Body, { rules: [{ id: 1 }, { id: 'x' }] }), 'body')).toEqual([
      { field: 'rules.1.id', message: 'must be an integer' },
    ]);
    expect(readableErrors(errorsOf(Body, 'text'), 'body')).toEqual([
      { field: 'body', message: 'must be an object' },
    ]);
  });

  it('VE05 a union of a type and values reads as one sentence', () => {
    const Schema = Type.Object({
      half_life: Type.Union([Type.Integer(), Type.Literal('auto'), Type.Literal('none')]),
    });
    expect(readableErrors(errorsOf(Schema, { half_life: 'soon' }), 'querystring')).toEqual([
      { field: 'half_life', message: 'must be an integer, or one of: auto, none' },
    ]);
  });

  it('VE06 the formatter says each field once, and leaves one entry per field for the 400 body', () => {
    const errors = errorsOf(Query, { env_id: 'e', group_by: 'week' });
    expect(errors.length).toBeGreaterThan(1);
    const err = schemaErrorFormatter(errors, 'querystring');
    expect(err.message).toBe('group_by must be one of: day, campaign_id, creative_id');
    expect(errors).toEqual([
      expect.objectContaining({
        instancePath: '/group_by',
        message: 'must be one of: day, campaign_id, creative_id',
      }),
    ]);
  });
});
