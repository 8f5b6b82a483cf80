import type { TouchKind } from './event.js';

// The shape of audience rules once parsed (audience-rules.ts parses, audience-evaluate.ts
// evaluates).

/** Comparison operators of a `where` filter. */
export const WHERE_OPERATORS = [
  '=',
  '!=',
  '>',
  '>=',
  '<',
  '<=',
  'contains',
  'matches',
  'in',
] as const;
export type WhereOperator = (typeof WHERE_OPERATORS)[number];

/** One property test; a bare string is a glob (`/products/*`), any other scalar is equality. */
export interface PropertyTest {
  op: WhereOperator;
  value: string | number | boolean | ReadonlyArray<string | number>;
}

/** "The person did EVENT within DUR (with these properties)". */
export interface EventCondition {
  type: 'event';
  event: string;
  within_s: number;
  where: ReadonlyArray<{ field: string; tests: readonly PropertyTest[] }>;
}

/** "The person saw (impression) or clicked an ad, of this campaign, within DUR". */
export interface TouchCondition {
  type: 'touch';
  touch: TouchKind;
  campaign_id: string | null;
  within_s: number;
}

/** `all` (AND), `any` (OR), `none` (NOT any); a group holds at least one of them. */
export interface RuleGroup {
  type: 'group';
  all: readonly RuleNode[];
  any: readonly RuleNode[];
  none: readonly RuleNode[];
}

export type RuleNode = RuleGroup | EventCondition | TouchCondition;

/** A problem in a rule definition, with its JSON path (`rules.all[0].within`). */
export interface RuleError {
  field: string;
  message: string;
}

export type ParseResult = { ok: true; rules: RuleGroup } | { ok: false; errors: RuleError[] };
