//! `connect-redis`: the Redis sink connector and the Redis source connectors (Streams, keys,
//! lists, pub/sub), built on `connect-core` and fred.
