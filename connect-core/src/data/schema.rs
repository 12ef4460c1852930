//! Schemas: the optional type description of a key or value, as in Kafka Connect.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::Value;

/// Kafka Connect's logical type names, carried in [`Schema::name`].
pub mod logical {
    /// `int64` milliseconds since the Unix epoch.
    pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
    /// `int32` days since the Unix epoch.
    pub const DATE: &str = "org.apache.kafka.connect.data.Date";
    /// `int32` milliseconds since midnight.
    pub const TIME: &str = "org.apache.kafka.connect.data.Time";
    /// `bytes`: a big-endian two's complement unscaled integer; the scale is the `scale`
    /// parameter.
    pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
    /// The parameter of [`DECIMAL`] holding the scale.
    pub const DECIMAL_SCALE: &str = "scale";
}

/// The type of a schema, with the schemas of its parts for arrays, maps and structs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SchemaType {
    /// A boolean (`boolean`).
    Boolean,
    /// An 8-bit signed integer (`int8`).
    Int8,
    /// A 16-bit signed integer (`int16`).
    Int16,
    /// A 32-bit signed integer (`int32`).
    Int32,
    /// A 64-bit signed integer (`int64`).
    Int64,
    /// A 32-bit IEEE 754 floating-point number (`float`).
    Float32,
    /// A 64-bit IEEE 754 floating-point number (`double`).
    Float64,
    /// A UTF-8 string (`string`).
    String,
    /// A sequence of bytes (`bytes`).
    Bytes,
    /// Elements of one schema.
    Array(Arc<Schema>),
    /// Keys and values of one schema each.
    Map {
        /// The schema of every key.
        keys: Arc<Schema>,
        /// The schema of every value.
        values: Arc<Schema>,
    },
    /// Named fields, in order.
    Struct(Vec<Field>),
}

impl SchemaType {
    /// The type's name in Kafka Connect's JSON schemas (`int32`, `float`, `struct`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Boolean => "boolean",
            Self::Int8 => "int8",
            Self::Int16 => "int16",
            Self::Int32 => "int32",
            Self::Int64 => "int64",
            Self::Float32 => "float",
            Self::Float64 => "double",
            Self::String => "string",
            Self::Bytes => "bytes",
            Self::Array(_) => "array",
            Self::Map { .. } => "map",
            Self::Struct(_) => "struct",
        }
    }

    /// The primitive type of a JSON schema type name; `None` for unknown names and for the
    /// composite types, which need their parts.
    pub fn primitive_from_name(name: &str) -> Option<Self> {
        Some(match name {
            "boolean" => Self::Boolean,
            "int8" => Self::Int8,
            "int16" => Self::Int16,
            "int32" => Self::Int32,
            "int64" => Self::Int64,
            "float" => Self::Float32,
            "double" => Self::Float64,
            "string" => Self::String,
            "bytes" => Self::Bytes,
            _ => return None,
        })
    }
}

/// A field of a struct schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The field's name.
    pub name: String,
    /// The field's schema.
    pub schema: Arc<Schema>,
}

impl Field {
    /// A field with this name and schema.
    pub fn new(name: impl Into<String>, schema: impl Into<Arc<Schema>>) -> Self {
        Self {
            name: name.into(),
            schema: schema.into(),
        }
    }
}

/// The schema of a key or value: its type and Kafka Connect's schema attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// The type, with the schemas of its parts.
    pub kind: SchemaType,
    /// Whether the value may be null.
    pub optional: bool,
    /// The value used when none is given.
    pub default: Option<Value>,
    /// The schema's name; logical types use [`logical`]'s names.
    pub name: Option<String>,
    /// The schema's version.
    pub version: Option<i32>,
    /// Documentation.
    pub doc: Option<String>,
    /// Free-form parameters (e.g. a decimal's `scale`).
    pub parameters: BTreeMap<String, String>,
}

impl Schema {
    /// A required schema of this type with no other attributes.
    pub fn new(kind: SchemaType) -> Self {
        Self {
            kind,
            optional: false,
            default: None,
            name: None,
            version: None,
            doc: None,
            parameters: BTreeMap::new(),
        }
    }

    /// This schema, made optional.
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// This schema, named.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A struct schema with these fields.
    pub fn structure(fields: Vec<Field>) -> Self {
        Self::new(SchemaType::Struct(fields))
    }

    /// An array schema.
    pub fn array(items: impl Into<Arc<Schema>>) -> Self {
        Self::new(SchemaType::Array(items.into()))
    }

    /// A map schema.
    pub fn map(keys: impl Into<Arc<Schema>>, values: impl Into<Arc<Schema>>) -> Self {
        Self::new(SchemaType::Map {
            keys: keys.into(),
            values: values.into(),
        })
    }

    /// The fields of a struct schema; empty for other types.
    pub fn fields(&self) -> &[Field] {
        match &self.kind {
            SchemaType::Struct(fields) => fields,
            _ => &[],
        }
    }

    /// The field of a struct schema with this name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields().iter().find(|f| f.name == name)
    }

    /// Whether this is the logical type with this name.
    pub fn is_logical(&self, logical_name: &str) -> bool {
        self.name.as_deref() == Some(logical_name)
    }

    /// Checks that `value` fits this schema, naming the first place where it does not.
    pub fn validate(&self, value: &Value) -> Result<(), String> {
        match (&self.kind, value) {
            (_, Value::Null) if self.optional || self.default.is_some() => Ok(()),
            (SchemaType::Boolean, Value::Boolean(_))
            | (SchemaType::Int8, Value::Int8(_))
            | (SchemaType::Int16, Value::Int16(_))
            | (SchemaType::Int32, Value::Int32(_))
            | (SchemaType::Int64, Value::Int64(_))
            | (SchemaType::Float32, Value::Float32(_))
            | (SchemaType::Float64, Value::Float64(_))
            | (SchemaType::String, Value::String(_))
            | (SchemaType::Bytes, Value::Bytes(_)) => Ok(()),
            (SchemaType::Array(items), Value::Array(values)) => values
                .iter()
                .enumerate()
                .try_for_each(|(i, v)| items.validate(v).map_err(|e| format!("[{i}]: {e}"))),
            (SchemaType::Map { keys, values }, Value::Map(entries)) => {
                entries.iter().try_for_each(|(k, v)| {
                    keys.validate(k)?;
                    values.validate(v).map_err(|e| format!("[{k}]: {e}"))
                })
            }
            (SchemaType::Struct(fields), Value::Struct(s)) => fields.iter().try_for_each(|f| {
                f.schema
                    .validate(s.get(&f.name).unwrap_or(&Value::Null))
                    .map_err(|e| format!("{}: {e}", f.name))
            }),
            (kind, value) => Err(format!(
                "expected {}{}, found {}",
                if self.optional { "optional " } else { "" },
                kind.name(),
                value.type_name()
            )),
        }
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{} ({name})", self.kind.name()),
            None => f.write_str(self.kind.name()),
        }
    }
}

/// Ready-made schemas for the primitive types, shared rather than rebuilt per record.
macro_rules! shared_schemas {
    ($($fn_name:ident, $opt_name:ident => $kind:ident;)*) => {
        impl Schema {
            $(
                #[doc = concat!("The shared required `", stringify!($kind), "` schema.")]
                pub fn $fn_name() -> Arc<Schema> {
                    static SCHEMA: std::sync::OnceLock<Arc<Schema>> = std::sync::OnceLock::new();
                    SCHEMA.get_or_init(|| Arc::new(Schema::new(SchemaType::$kind))).clone()
                }
                #[doc = concat!("The shared optional `", stringify!($kind), "` schema.")]
                pub fn $opt_name() -> Arc<Schema> {
                    static SCHEMA: std::sync::OnceLock<Arc<Schema>> = std::sync::OnceLock::new();
                    SCHEMA.get_or_init(|| Arc::new(Schema::new(SchemaType::$kind).optional())).clone()
                }
            )*
        }
    };
}

shared_schemas! {
    boolean, optional_boolean => Boolean;
    int8, optional_int8 => Int8;
    int16, optional_int16 => Int16;
    int32, optional_int32 => Int32;
    int64, optional_int64 => Int64;
    float32, optional_float32 => Float32;
    float64, optional_float64 => Float64;
    string, optional_string => String;
    bytes, optional_bytes => Bytes;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Struct;

    #[test]
    fn validate_names_the_field_that_does_not_fit() {
        let schema = Schema::structure(vec![
            Field::new("id", Schema::int64()),
            Field::new("name", Schema::optional_string()),
        ]);
        let ok = Value::Struct(Struct::new().with("id", Value::Int64(1)));
        assert_eq!(schema.validate(&ok), Ok(()));
        let bad = Value::Struct(Struct::new().with("id", Value::from("x")));
        assert_eq!(
            schema.validate(&bad),
            Err("id: expected int64, found string".to_owned())
        );
        let missing = Value::Struct(Struct::new());
        assert!(schema.validate(&missing).unwrap_err().starts_with("id:"));
    }

    #[test]
    fn shared_schemas_are_shared() {
        assert!(Arc::ptr_eq(&Schema::string(), &Schema::string()));
        assert!(Schema::optional_int32().optional);
        assert!(!Schema::int32().optional);
    }
}
