//! Kafka Connect's `StringConverter`: keys and values as UTF-8 text.
//!
//! Reading shares the record's buffer (the bytes are checked to be UTF-8, never copied);
//! writing a string value hands back its own buffer. Other values are written as their text.

use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;

use super::{Converter, SchemaAndValue};
use crate::config::{
    ConfigDef, ConfigErrors, ConfigKey, ConfigType, ConfigValue, Importance, Props, Validator,
    Width,
};
use crate::data::{Schema, Text, Value};
use crate::error::ConnectError;
use crate::plugin::PluginDescriptor;

const CLASS: &str = "org.apache.kafka.connect.storage.StringConverter";
const ENCODING: &str = "converter.encoding";

/// The string converter, as a converter and a header converter (Kafka's is both).
pub(crate) fn plugins() -> Vec<PluginDescriptor> {
    super::converter_plugins(CLASS, config_def(), |props| {
        Ok(Box::new(StringConverter::new(props)?) as Box<dyn Converter>)
    })
}

/// Kafka's `StringConverterConfig`, its default included (`UTF-8`).
fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new(ENCODING, ConfigType::String)
            .default_value("UTF-8")
            .validator(Validator::Custom(Arc::new(check_encoding)))
            .importance(Importance::High)
            .doc(
                "The name of the Java character set to use for encoding strings as byte arrays. \
                 Only UTF-8 is supported (written UTF-8 or UTF8, in any case).",
            )
            .width(Width::Medium)
            .display_name("Encoding"),
    )
}

/// Only UTF-8, under the names Java knows it by: everything here is UTF-8 text.
fn check_encoding(value: &ConfigValue) -> Result<(), String> {
    match value {
        ConfigValue::String(name)
            if ["UTF-8", "UTF8", "unicode-1-1-utf-8"]
                .iter()
                .any(|n| n.eq_ignore_ascii_case(name)) =>
        {
            Ok(())
        }
        other => Err(format!(
            "Unsupported encoding {other}: only UTF-8 (also written UTF8) is supported"
        )),
    }
}

/// Kafka Connect's `org.apache.kafka.connect.storage.StringConverter` (UTF-8 only).
#[derive(Debug)]
pub struct StringConverter {
    _private: (),
}

impl StringConverter {
    /// A converter from its settings, every problem reported at once.
    pub fn new(props: &Props) -> Result<Self, ConfigErrors> {
        config_def().parse(props)?;
        Ok(Self { _private: () })
    }
}

impl Converter for StringConverter {
    /// The text with the optional string schema, sharing `data`'s buffer; `None` gives null.
    fn to_connect(
        &self,
        _topic: &str,
        data: Option<Bytes>,
    ) -> Result<SchemaAndValue, ConnectError> {
        let value = match data.map(Text::try_from) {
            None => Value::Null,
            Some(Ok(text)) => Value::String(text),
            Some(Err(e)) => {
                return Err(ConnectError::fatal(format!(
                    "Failed to deserialize string: the data is not valid UTF-8 (invalid bytes \
                     after the first {} bytes); StringConverter reads UTF-8 only",
                    e.valid_up_to()
                )))
            }
        };
        Ok(SchemaAndValue {
            schema: Some(Schema::optional_string()),
            value,
        })
    }

    /// A string's own bytes (no copy); other values as their text, as Kafka's `toString`;
    /// null gives no bytes. The schema is not looked at, as in Kafka.
    fn from_connect(
        &self,
        _topic: &str,
        _schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Bytes>, ConnectError> {
        Ok(match value {
            Value::Null => None,
            Value::String(text) => Some(text.clone().into_bytes()),
            other => Some(Bytes::from(to_text(other))),
        })
    }
}

/// The text of a non-string value: floats as Java prints them (`1.0`, `1.0E10`), so text
/// written from the same values matches Kafka's; the rest as [`Value`]'s `Display`.
fn to_text(value: &Value) -> String {
    let mut out = String::new();
    match *value {
        Value::Float32(x) => java_float(&mut out, format!("{x:e}"), x.is_finite()),
        Value::Float64(x) => java_float(&mut out, format!("{x:e}"), x.is_finite()),
        ref other => {
            let _ = write!(out, "{other}");
        }
    }
    out
}

/// Java's `Double.toString` / `Float.toString` from Rust's shortest digits (`{:e}`, such as
/// `-1.5e-7`): plain with at least one fractional digit from 10^-3 up to 10^7, otherwise
/// `d.dddE±n`; `NaN`, `Infinity`, `-Infinity`.
fn java_float(out: &mut String, scientific: String, finite: bool) {
    if !finite {
        out.push_str(match scientific.as_str() {
            "inf" => "Infinity",
            "-inf" => "-Infinity",
            _ => "NaN",
        });
        return;
    }
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    out.push_str(sign);
    if (-3..7).contains(&exponent) {
        if exponent < 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exponent - 1) as usize));
            out.push_str(&digits);
        } else {
            let int_len = exponent as usize + 1;
            let padded = format!("{digits:0<int_len$}");
            let (int, frac) = padded.split_at(int_len);
            out.push_str(int);
            out.push('.');
            out.push_str(if frac.is_empty() { "0" } else { frac });
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let _ = write!(
            out,
            "{first}.{}E{exponent}",
            if rest.is_empty() { "0" } else { rest }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Struct;
    use crate::plugin::PluginFactory;

    fn converter() -> StringConverter {
        StringConverter::new(&Props::new()).unwrap()
    }

    #[test]
    fn reads_text_sharing_the_buffer() {
        let data = Bytes::from("héllo".as_bytes().to_vec());
        let sv = converter().to_connect("t", Some(data.clone())).unwrap();
        assert_eq!(sv.schema, Some(Schema::optional_string()));
        let Value::String(text) = &sv.value else {
            panic!("not a string: {sv:?}")
        };
        assert_eq!(&**text, "héllo");
        assert_eq!(
            text.as_bytes().as_ptr(),
            data.as_ptr(),
            "the text was copied"
        );
    }

    #[test]
    fn null_reads_as_null_with_the_schema_and_writes_as_none() {
        let sv = converter().to_connect("t", None).unwrap();
        assert_eq!(sv.schema, Some(Schema::optional_string()));
        assert_eq!(sv.value, Value::Null);
        assert_eq!(
            converter().from_connect("t", None, &Value::Null).unwrap(),
            None
        );
    }

    #[test]
    fn invalid_utf8_is_a_clear_error() {
        let err = converter()
            .to_connect("t", Some(Bytes::from_static(b"ab\xff")))
            .unwrap_err();
        assert!(!err.is_retriable());
        assert_eq!(
            err.to_string(),
            "Failed to deserialize string: the data is not valid UTF-8 (invalid bytes after the \
             first 2 bytes); StringConverter reads UTF-8 only"
        );
    }

    #[test]
    fn writes_strings_without_copying() {
        let text = Text::from("a string".to_owned());
        let value = Value::String(text.clone());
        let out = converter()
            .from_connect("t", None, &value)
            .unwrap()
            .unwrap();
        assert_eq!(out, "a string");
        assert_eq!(
            out.as_ptr(),
            text.as_bytes().as_ptr(),
            "the text was copied"
        );
    }

    #[test]
    fn writes_other_values_as_kafka_prints_them() {
        let text = |v: Value| {
            let out = converter().from_connect("t", None, &v).unwrap().unwrap();
            String::from_utf8(out.to_vec()).unwrap()
        };
        assert_eq!(text(Value::Int32(-42)), "-42");
        assert_eq!(text(Value::Int64(i64::MAX)), "9223372036854775807");
        assert_eq!(text(Value::Boolean(true)), "true");
        assert_eq!(text(Value::Float64(1.0)), "1.0");
        assert_eq!(text(Value::Float64(12.5)), "12.5");
        assert_eq!(text(Value::Float64(-0.001)), "-0.001");
        assert_eq!(text(Value::Float64(1e-4)), "1.0E-4");
        assert_eq!(text(Value::Float64(12345678.9)), "1.23456789E7");
        assert_eq!(text(Value::Float64(1e7)), "1.0E7");
        assert_eq!(text(Value::Float64(1234567.0)), "1234567.0");
        assert_eq!(text(Value::Float32(0.1)), "0.1");
        assert_eq!(text(Value::Float64(f64::NAN)), "NaN");
        assert_eq!(text(Value::Float64(f64::NEG_INFINITY)), "-Infinity");
        assert_eq!(text(Value::Bytes(Bytes::from_static(b"hi"))), "aGk=");
        let st = Value::Struct(Struct::new().with("a", 1i32));
        assert_eq!(text(st), r#"{"a":1}"#);
    }

    #[test]
    fn encoding_must_be_utf8() {
        for ok in ["UTF-8", "utf8", "Utf-8"] {
            let props = Props::from([(ENCODING.to_owned(), ok.to_owned())]);
            assert!(StringConverter::new(&props).is_ok(), "{ok}");
        }
        let props = Props::from([(ENCODING.to_owned(), "ISO-8859-1".to_owned())]);
        let err = StringConverter::new(&props).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid value ISO-8859-1 for configuration converter.encoding: Unsupported \
             encoding ISO-8859-1: only UTF-8 (also written UTF8) is supported"
        );
    }

    #[test]
    fn registered_under_kafkas_names() {
        let plugins = plugins();
        assert_eq!(plugins.len(), 2);
        assert!(plugins.iter().all(|p| p.matches("StringConverter")));
        let PluginFactory::Converter(factory) = &plugins[0].factory else {
            panic!("not a converter")
        };
        assert!(factory(&Props::new(), false).is_ok());
        assert_eq!(
            plugins[0].config_def.key(ENCODING).map(|k| k.is_required()),
            Some(false)
        );
    }
}
