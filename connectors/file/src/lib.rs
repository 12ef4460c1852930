//! `connect-file`: the FileStream source and sink connectors, as Apache Kafka ships them, for
//! demos and for testing the runtime without Redis.
