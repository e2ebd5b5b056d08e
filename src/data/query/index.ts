/** Query checking, SQL compilation for shard engines, and the router-side merge of shard answers. */
export { checkQuery, MAX_LIMIT, type CheckedQuery } from './validate.ts';
export { compileQuery, type CompiledQuery } from './compile.ts';
export { mergeShardResults } from './merge.ts';
export { compareText, compareValues } from './compare.ts';
export { isFieldPath, readPath } from './paths.ts';
