/** The shard (0 … shards-1) a store key lives in: FNV-1a, since any string must spread, not only hashes. */
export function shardOf(key: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % shards;
}

/** The name of a shard's object: stores with different namespaces share no object. */
export function shardName(namespace: string, shard: number): string {
  return `${namespace}/${shard}`;
}
