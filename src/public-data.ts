/**
 * `shoal/data`: collections of the sharded document store, and the client that reaches them
 * from a process outside the cluster. Handlers use the same API as `ctx.data`.
 */
export {
  createDataClient,
  defineCollection,
  type AggregateOp,
  type AnyCollectionDefinition,
  type CollectionClient,
  type CollectionDefinition,
  type Condition,
  type DataClient,
  type DataClientConnection,
  type DataClientOptions,
  type DataCollections,
  type DataConfig,
  type DocumentAddress,
  type IndexDefinition,
  type JsonDocument,
  type Query,
  type Scalar,
  type ScanOptions,
  type StoredDocument,
  type Versioned,
  type Where,
  type WriteOptions,
} from './data/index.ts';
