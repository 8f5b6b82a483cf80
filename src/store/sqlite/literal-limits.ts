import {
  type LimitNode,
  type OffsetNode,
  type OperationNode,
  type QueryCompiler,
  SqliteDialect,
  SqliteQueryCompiler,
  ValueNode,
} from 'kysely';

/**
 * SQLite's compiler, with a whole-number LIMIT or OFFSET written into the SQL text instead of
 * bound as a parameter. SQLite's planner reads a bound LIMIT's value, so binding one makes
 * the statement prepare again on its next step: 6-11 µs a query on this box where the query
 * itself took 1-4 (an identity-link lookup 10-22 µs with `limit ?`, 4 with `limit 500`;
 * issue 22, fifteenth round). Only safe integers are written; anything else stays bound.
 */
export class LiteralLimitCompiler extends SqliteQueryCompiler {
  protected override visitLimit(node: LimitNode): void {
    if (!this.literal('limit', node.limit)) super.visitLimit(node);
  }

  protected override visitOffset(node: OffsetNode): void {
    if (!this.literal('offset', node.offset)) super.visitOffset(node);
  }

  private literal(word: string, node: OperationNode): boolean {
    if (!ValueNode.is(node)) return false;
    const v = node.value;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) return false;
    this.append(`${word} ${v}`);
    return true;
  }
}

/** Kysely's SQLite dialect with LiteralLimitCompiler. */
export class LiteralLimitSqliteDialect extends SqliteDialect {
  override createQueryCompiler(): QueryCompiler {
    return new LiteralLimitCompiler();
  }
}
