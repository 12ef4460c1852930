//! The data model: [`Value`]s with Kafka Connect's types and their optional [`Schema`]s.

mod json;
mod schema;
mod value;

pub(crate) use json::BASE64;
pub use schema::{logical, Field, Schema, SchemaType};
pub use value::{Struct, Text, Value};
