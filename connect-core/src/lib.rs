//! `connect-core`: the connector SDK.
//!
//! Every connector crate, ours and third parties', depends on this crate only: the connector
//! and task traits, the record and value model, config definitions, converters and transforms.
//! It opens no sockets and runs no runtime of its own.
