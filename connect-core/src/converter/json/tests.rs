//! Tests of the JSON converter against the exact text Kafka's `JsonConverter` reads and writes.

use std::sync::Arc;

use bytes::Bytes;

use super::*;
use crate::data::{logical, Field, SchemaType, Struct};
use crate::plugin::PluginFactory;

fn converter(settings: &[(&str, &str)]) -> JsonConverter {
    let props: Props = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    JsonConverter::new(&props).unwrap()
}

fn read(c: &JsonConverter, text: &str) -> Result<SchemaAndValue, ConnectError> {
    c.to_connect("topic", Some(Bytes::copy_from_slice(text.as_bytes())))
}

fn write(c: &JsonConverter, schema: Option<&Schema>, value: &Value) -> String {
    let out = c.from_connect("topic", schema, value).unwrap().unwrap();
    String::from_utf8(out.to_vec()).unwrap()
}

fn write_err(c: &JsonConverter, schema: Option<&Schema>, value: &Value) -> String {
    c.from_connect("topic", schema, value)
        .unwrap_err()
        .to_string()
}

/// Writes with the envelope, checks the exact text, reads it back and checks the round trip.
fn round_trip(schema: Schema, value: Value, expected: &str) {
    let c = converter(&[]);
    assert_eq!(write(&c, Some(&schema), &value), expected);
    let back = read(&c, expected).unwrap();
    assert_eq!(back.schema.as_deref(), Some(&schema));
    assert_eq!(back.value, value);
}

fn decimal(scale: i32) -> Schema {
    let mut s = Schema::new(SchemaType::Bytes).named(logical::DECIMAL);
    s.version = Some(1);
    s.parameters.insert("scale".into(), scale.to_string());
    s
}

fn logical_int(kind: SchemaType, name: &str) -> Schema {
    let mut s = Schema::new(kind).named(name);
    s.version = Some(1);
    s
}

fn with_default(mut schema: Schema, default: impl Into<Value>) -> Schema {
    schema.default = Some(default.into());
    schema
}

const ENVELOPE_ERROR: &str = "JsonConverter with schemas.enable requires \"schema\" and \
    \"payload\" fields and may not contain additional fields. If you are trying to deserialize \
    plain JSON data, set schemas.enable=false in your converter configuration.";

#[test]
fn struct_envelope_is_exactly_kafkas() {
    let schema = Schema::structure(vec![Field::new("id", Schema::int64())]);
    round_trip(
        schema,
        Value::Struct(Struct::new().with("id", 1i64)),
        r#"{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"}],"optional":false},"payload":{"id":1}}"#,
    );
}

#[test]
fn primitives_round_trip() {
    let cases: Vec<(Arc<Schema>, Value, &str)> = vec![
        (
            Schema::boolean(),
            Value::Boolean(true),
            r#"{"type":"boolean","optional":false},"payload":true"#,
        ),
        (
            Schema::int8(),
            Value::Int8(-12),
            r#"{"type":"int8","optional":false},"payload":-12"#,
        ),
        (
            Schema::int16(),
            Value::Int16(300),
            r#"{"type":"int16","optional":false},"payload":300"#,
        ),
        (
            Schema::int32(),
            Value::Int32(i32::MIN),
            r#"{"type":"int32","optional":false},"payload":-2147483648"#,
        ),
        (
            Schema::int64(),
            Value::Int64(4398046511104),
            r#"{"type":"int64","optional":false},"payload":4398046511104"#,
        ),
        (
            Schema::float32(),
            Value::Float32(12.34),
            r#"{"type":"float","optional":false},"payload":12.34"#,
        ),
        (
            Schema::float64(),
            Value::Float64(-0.5),
            r#"{"type":"double","optional":false},"payload":-0.5"#,
        ),
        (
            Schema::float64(),
            Value::Float64(f64::INFINITY),
            r#"{"type":"double","optional":false},"payload":"Infinity""#,
        ),
        (
            Schema::string(),
            Value::from("a \"quoted\" é"),
            r#"{"type":"string","optional":false},"payload":"a \"quoted\" é""#,
        ),
        (
            Schema::bytes(),
            Value::Bytes(Bytes::from_static(b"test-string")),
            r#"{"type":"bytes","optional":false},"payload":"dGVzdC1zdHJpbmc=""#,
        ),
        (
            Schema::optional_string(),
            Value::Null,
            r#"{"type":"string","optional":true},"payload":null"#,
        ),
    ];
    for (schema, value, text) in cases {
        round_trip(
            Schema::clone(&schema),
            value,
            &format!(r#"{{"schema":{text}}}"#),
        );
    }
    let nan = read(
        &converter(&[]),
        r#"{"schema":{"type":"float"},"payload":"NaN"}"#,
    )
    .unwrap();
    assert!(matches!(nan.value, Value::Float32(x) if x.is_nan()));
}

#[test]
fn schema_attributes_in_kafkas_order() {
    let mut schema = Schema::new(SchemaType::Boolean).named("bool");
    schema.version = Some(2);
    schema.doc = Some("the documentation".into());
    schema.parameters.insert("foo".into(), "bar".into());
    let kafka = r#"{ "schema": { "type": "boolean", "optional": false, "name": "bool", "version": 2, "doc": "the documentation", "parameters": { "foo": "bar" }}, "payload": true }"#;
    let read_back = read(&converter(&[]), kafka).unwrap();
    assert_eq!(read_back.schema.as_deref(), Some(&schema));
    round_trip(
        schema,
        Value::Boolean(true),
        r#"{"schema":{"type":"boolean","optional":false,"name":"bool","version":2,"doc":"the documentation","parameters":{"foo":"bar"}},"payload":true}"#,
    );
}

#[test]
fn arrays_and_maps() {
    round_trip(
        Schema::array(Schema::int32()),
        Value::Array(vec![Value::Int32(1), Value::Int32(2)]),
        r#"{"schema":{"type":"array","items":{"type":"int32","optional":false},"optional":false},"payload":[1,2]}"#,
    );
    round_trip(
        Schema::map(Schema::string(), Schema::int32()),
        Value::Map(vec![
            (Value::from("key1"), Value::Int32(12)),
            (Value::from("key2"), Value::Int32(15)),
        ]),
        r#"{"schema":{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int32","optional":false},"optional":false},"payload":{"key1":12,"key2":15}}"#,
    );
    round_trip(
        Schema::map(Schema::int32(), Schema::optional_string()),
        Value::Map(vec![
            (Value::Int32(1), Value::from("a")),
            (Value::Int32(2), Value::Null),
        ]),
        r#"{"schema":{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"string","optional":true},"optional":false},"payload":[[1,"a"],[2,null]]}"#,
    );
    let c = converter(&[]);
    let bad_pair = r#"{"schema":{"type":"map","keys":{"type":"int32"},"values":{"type":"int32"}},"payload":[[1,2,3]]}"#;
    assert_eq!(
        read(&c, bad_pair).unwrap_err().to_string(),
        "Converting byte[] to Kafka Connect data failed: Found invalid map entry, expected length \
         2 but found :3 (at payload[0], line 1 column 93)"
    );
    let object_for_pairs = r#"{"schema":{"type":"map","keys":{"type":"int32"},"values":{"type":"int32"}},"payload":{"1":2}}"#;
    assert!(read(&c, object_for_pairs)
        .unwrap_err()
        .to_string()
        .contains(
        "Maps with non-string fields should be encoded as JSON array of tuples, but found OBJECT"
    ));
}

#[test]
fn nested_structs_with_optional_and_default_fields() {
    let inner = Schema::structure(vec![Field::new("tags", Schema::array(Schema::string()))]);
    let schema = Schema::structure(vec![
        Field::new("name", Schema::string()),
        Field::new("note", Schema::optional_string()),
        Field::new("count", with_default(Schema::new(SchemaType::Int32), 7i32)),
        Field::new("inner", inner.optional()),
    ]);
    let value = Struct::new()
        .with("name", "n")
        .with("note", Value::Null)
        .with("count", 7i32)
        .with(
            "inner",
            Struct::new().with("tags", Value::Array(vec!["x".into()])),
        );
    round_trip(
        schema.clone(),
        Value::Struct(value.clone()),
        r#"{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"name"},{"type":"string","optional":true,"field":"note"},{"type":"int32","optional":false,"default":7,"field":"count"},{"type":"struct","fields":[{"type":"array","items":{"type":"string","optional":false},"optional":false,"field":"tags"}],"optional":true,"field":"inner"}],"optional":false},"payload":{"name":"n","note":null,"count":7,"inner":{"tags":["x"]}}}"#,
    );
    // Fields in another order, missing ones and unknown ones: schema order, default or null.
    let text = r#"{"schema":{"type":"struct","fields":[{"field":"name","type":"string"},{"field":"note","type":"string","optional":true},{"field":"count","type":"int32","default":7}]},"payload":{"extra":[1,{"a":2}],"count":null,"name":"n"}}"#;
    let read_back = read(&converter(&[]), text).unwrap();
    let expected = Struct::new()
        .with("name", "n")
        .with("note", Value::Null)
        .with("count", 7i32);
    assert_eq!(read_back.value, Value::Struct(expected));
    let missing =
        r#"{"schema":{"type":"struct","fields":[{"field":"name","type":"string"}]},"payload":{}}"#;
    assert_eq!(
        read(&converter(&[]), missing).unwrap_err().to_string(),
        "Converting byte[] to Kafka Connect data failed: Invalid null value for required STRING \
         field (at payload.name, line 1 column 84)"
    );
}

#[test]
fn replace_null_with_default_both_ways() {
    let field = with_default(Schema::new(SchemaType::String).optional(), "default");
    let schema = Schema::structure(vec![Field::new("field1", field.clone())]);
    let on = converter(&[]);
    let off = converter(&[("replace.null.with.default", "false")]);
    let empty = Value::Struct(Struct::new());
    let schema_text = r#"{"type":"struct","fields":[{"type":"string","optional":true,"default":"default","field":"field1"}],"optional":false}"#;
    assert_eq!(
        write(&on, Some(&schema), &empty),
        format!(r#"{{"schema":{schema_text},"payload":{{"field1":"default"}}}}"#)
    );
    assert_eq!(
        write(&off, Some(&schema), &empty),
        format!(r#"{{"schema":{schema_text},"payload":{{"field1":null}}}}"#)
    );
    let null_field = format!(r#"{{"schema":{schema_text},"payload":{{"field1":null}}}}"#);
    assert_eq!(
        read(&on, &null_field).unwrap().value,
        Value::Struct(Struct::new().with("field1", "default"))
    );
    assert_eq!(
        read(&off, &null_field).unwrap().value,
        Value::Struct(Struct::new().with("field1", Value::Null))
    );
    assert_eq!(
        write(&on, Some(&field), &Value::Null),
        r#"{"schema":{"type":"string","optional":true,"default":"default"},"payload":"default"}"#
    );
}

#[test]
fn decimals_base64_and_numeric() {
    let base64 = converter(&[]);
    let numeric = converter(&[("decimal.format", "numeric")]);
    let schema = decimal(2);
    let v156 = Value::Bytes(Bytes::from_static(&[0, 0x9c]));
    let schema_text = r#"{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}}"#;
    round_trip(
        schema.clone(),
        v156.clone(),
        &format!(r#"{{"schema":{schema_text},"payload":"AJw="}}"#),
    );
    assert_eq!(
        write(&numeric, Some(&schema), &v156),
        format!(r#"{{"schema":{schema_text},"payload":1.56}}"#)
    );
    for reader in [&base64, &numeric] {
        let text = format!(r#"{{"schema":{schema_text},"payload":1.56}}"#);
        assert_eq!(read(reader, &text).unwrap().value, v156);
        let int = format!(r#"{{"schema":{schema_text},"payload":2}}"#);
        assert_eq!(
            read(reader, &int).unwrap().value,
            Value::Bytes(Bytes::from_static(&[0, 0xc8]))
        );
    }
    let numeric_text = |scale: i32, bytes: &'static [u8]| {
        let out = write(
            &numeric,
            Some(&decimal(scale)),
            &Value::Bytes(Bytes::from_static(bytes)),
        );
        out.rsplit_once("\"payload\":")
            .unwrap()
            .1
            .trim_end_matches('}')
            .to_owned()
    };
    assert_eq!(numeric_text(4, &[0x3c, 0xf0]), "1.5600"); // 15600, trailing zeros kept
    assert_eq!(numeric_text(2, &[0xff, 0x64]), "-1.56");
    assert_eq!(numeric_text(7, &[0x01]), "1E-7"); // as Java's BigDecimal.toString
    assert_eq!(numeric_text(2, &[0x05]), "0.05");
    assert_eq!(numeric_text(-2, &[0x0f]), "1.5E+3");
    assert_eq!(numeric_text(0, &[0x80]), "-128");
    let too_precise = format!(r#"{{"schema":{schema_text},"payload":1.234}}"#);
    assert!(read(&numeric, &too_precise)
        .unwrap_err()
        .to_string()
        .contains("more digits after the point than its scale 2 allows"));
    let huge = Value::Bytes(Bytes::from(vec![1u8; 17]));
    assert!(numeric
        .from_connect("t", Some(&schema), &huge)
        .unwrap_err()
        .to_string()
        .contains("use decimal.format=BASE64"));
    // 16-byte unscaled values (38 digits) are fine.
    let big = i128::MAX.to_be_bytes().to_vec();
    assert_eq!(
        numeric_text(0, Box::leak(big.into_boxed_slice())),
        i128::MAX.to_string()
    );
    let no_scale = r#"{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal"},"payload":"AJw="}"#;
    assert!(read(&base64, no_scale)
        .unwrap_err()
        .to_string()
        .contains("Invalid Decimal schema: scale parameter not found."));
    let default = r#"{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","version":1,"default":"AJw=","parameters":{"scale":"2"}},"payload":null}"#;
    assert_eq!(read(&base64, default).unwrap().value, v156);
}

#[test]
fn dates_times_and_timestamps() {
    let date = logical_int(SchemaType::Int32, logical::DATE);
    round_trip(
        date,
        Value::Int32(10000),
        r#"{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1},"payload":10000}"#,
    );
    let time = logical_int(SchemaType::Int32, logical::TIME);
    round_trip(
        time.clone(),
        Value::Int32(14400000),
        r#"{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Time","version":1},"payload":14400000}"#,
    );
    let ts = logical_int(SchemaType::Int64, logical::TIMESTAMP);
    round_trip(
        ts,
        Value::Int64(4000000000),
        r#"{"schema":{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1},"payload":4000000000}"#,
    );
    let c = converter(&[]);
    assert!(write_err(&c, Some(&time), &Value::Int32(-1)).contains(
        "Kafka Connect Time type should not have any date fields set to non-zero values."
    ));
    let late = r#"{"schema":{"type":"int32","name":"org.apache.kafka.connect.data.Time"},"payload":86400001}"#;
    assert!(read(&c, late)
        .unwrap_err()
        .to_string()
        .contains("Time values must use number of milliseconds"));
}

#[test]
fn schemaless_json_both_ways() {
    let c = converter(&[("schemas.enable", "false")]);
    let text = r#"{"id":123,"name":"alice","amount":12.5,"active":true,"tags":["a",null],"m":{}}"#;
    let sv = read(&c, text).unwrap();
    assert_eq!(sv.schema, None);
    assert_eq!(sv.value.get("id"), Some(&Value::Int64(123)));
    assert_eq!(sv.value.get("amount"), Some(&Value::Float64(12.5)));
    assert_eq!(write(&c, None, &sv.value), text);
    assert_eq!(read(&c, "").unwrap(), SchemaAndValue::default());
    assert_eq!(read(&c, " \n").unwrap(), SchemaAndValue::default());
    assert_eq!(read(&c, "\"s\"").unwrap().value, Value::from("s"));
    // A schema still directs the writing, without the envelope.
    assert_eq!(write(&c, Some(&Schema::int8()), &Value::Int8(5)), "5");
    let with_envelope = read(&c, r#"{"schema":null,"payload":1}"#).unwrap();
    assert_eq!(with_envelope.value.get("payload"), Some(&Value::Int64(1)));
}

#[test]
fn envelope_without_a_schema() {
    let c = converter(&[]);
    let sv = read(&c, r#"{"schema":null,"payload":{"a":[1,"x"]}}"#).unwrap();
    assert_eq!(sv.schema, None);
    assert_eq!(
        sv.value.get("a"),
        Some(&Value::Array(vec![Value::Int64(1), Value::from("x")]))
    );
    assert_eq!(
        write(&c, None, &sv.value),
        r#"{"schema":null,"payload":{"a":[1,"x"]}}"#
    );
    assert_eq!(
        read(&c, r#"{"schema":null,"payload":null}"#).unwrap(),
        SchemaAndValue::default()
    );
}

#[test]
fn nulls_and_tombstones_as_kafka() {
    for c in [converter(&[]), converter(&[("schemas.enable", "false")])] {
        assert_eq!(c.to_connect("t", None).unwrap(), SchemaAndValue::default());
        assert_eq!(c.from_connect("t", None, &Value::Null).unwrap(), None);
        assert_eq!(
            write_err(&c, Some(&Schema::int32()), &Value::Null),
            "Converting Kafka Connect data to byte[] failed: Conversion error: null value for \
             field that is required and has no default value (at payload)"
        );
    }
    let optional = Schema::optional_int32();
    assert_eq!(
        write(&converter(&[]), Some(&optional), &Value::Null),
        r#"{"schema":{"type":"int32","optional":true},"payload":null}"#
    );
    assert_eq!(
        write(
            &converter(&[("schemas.enable", "false")]),
            Some(&optional),
            &Value::Null
        ),
        "null"
    );
}

#[test]
fn missing_envelope_is_kafkas_error() {
    let c = converter(&[]);
    for text in [
        "{\"a\":1}",
        "[1]",
        "null",
        "",
        "{\"schema\":null}",
        r#"{"schema":null,"payload":1,"x":2}"#,
        "{}",
    ] {
        assert_eq!(
            read(&c, text).unwrap_err().to_string(),
            ENVELOPE_ERROR,
            "{text}"
        );
    }
}

#[test]
fn malformed_json_names_the_position_in_the_record() {
    let c = converter(&[]);
    assert_eq!(
        read(&c, r#"{"schema":null,"payload":{"a":"#)
            .unwrap_err()
            .to_string(),
        "Converting byte[] to Kafka Connect data failed due to serialization error: EOF while \
         parsing a value at line 1 column 30"
    );
    assert_eq!(
        read(&c, "{\"schema\":{\"type\":\"int32\"},\n \"payload\": 12x}")
            .unwrap_err()
            .to_string(),
        "Converting byte[] to Kafka Connect data failed due to serialization error: trailing \
         characters at line 2 column 15"
    );
    assert_eq!(
        read(&c, r#"{"schema":{"type":"int32",},"payload":1}"#)
            .unwrap_err()
            .to_string(),
        "Converting byte[] to Kafka Connect data failed due to serialization error: trailing \
         comma at line 1 column 27"
    );
    let plain = converter(&[("schemas.enable", "false")]);
    let err = read(&plain, "{\"a\" 1}").unwrap_err();
    assert!(!err.is_retriable());
    assert_eq!(
        err.to_string(),
        "Converting byte[] to Kafka Connect data failed due to serialization error: expected `:` \
         at line 1 column 6"
    );
}

#[test]
fn values_that_do_not_fit_the_schema_name_their_path() {
    let c = converter(&[]);
    let text = r#"{"schema":{"type":"struct","fields":[{"field":"a","type":"struct","fields":[{"field":"b","type":"array","items":{"type":"int8"}}]}]},"payload":{"a":{"b":[1,300]}}}"#;
    assert_eq!(
        read(&c, text).unwrap_err().to_string(),
        "Converting byte[] to Kafka Connect data failed: Value 300 is out of range for schema \
         type INT8 (at payload.a.b[1], line 1 column 159)"
    );
    let wrong = r#"{"schema":{"type":"int32"},"payload":"12"}"#;
    assert!(read(&c, wrong)
        .unwrap_err()
        .to_string()
        .contains("Expected a JSON number for schema type INT32, found STRING"));
    let fraction = r#"{"schema":{"type":"int64"},"payload":1.5}"#;
    assert!(read(&c, fraction)
        .unwrap_err()
        .to_string()
        .contains("Expected an integer for schema type INT64, found 1.5"));
    let schema = Schema::structure(vec![Field::new("items", Schema::array(Schema::int64()))]);
    let value = Value::Struct(Struct::new().with(
        "items",
        Value::Array(vec![Value::Int64(1), Value::Int32(2)]),
    ));
    assert_eq!(
        write_err(&c, Some(&schema), &value),
        "Converting Kafka Connect data to byte[] failed: Invalid type for INT64: int32 (at payload.items[1])"
    );
    let extra = Value::Struct(
        Struct::new()
            .with("items", Value::Array(vec![]))
            .with("x", 1i32),
    );
    assert!(write_err(&c, Some(&schema), &extra)
        .contains("Mismatching schema: the struct has fields the schema lacks: x"));
}

#[test]
fn invalid_schemas_get_kafkas_messages() {
    let c = converter(&[]);
    let cases = [
        (r#"{"optional":true}"#, "Schema must contain 'type' field"),
        (r#"{"type":"foo"}"#, "Unknown schema type: foo"),
        (
            r#"{"type":"array"}"#,
            "Array schema did not specify the element type",
        ),
        (
            r#"{"type":"map","keys":{"type":"string"}}"#,
            "Map schema did not specify the value type",
        ),
        (
            r#"{"type":"struct"}"#,
            "Struct schema's \"fields\" argument is not an array.",
        ),
        (
            r#"{"type":"struct","fields":[{"type":"int8"}]}"#,
            "Struct schema's field name not specified properly",
        ),
        (
            r#"{"type":"int8","parameters":{"a":1}}"#,
            "Schema parameters must have string values.",
        ),
    ];
    for (schema, message) in cases {
        let text = format!(r#"{{"schema":{schema},"payload":null}}"#);
        assert_eq!(
            read(&c, &text).unwrap_err().to_string(),
            format!("Converting byte[] to Kafka Connect data failed: invalid schema: {message}")
        );
    }
}

#[test]
fn unusual_but_valid_envelopes_are_read() {
    let c = converter(&[]);
    let expected = SchemaAndValue {
        schema: Some(Schema::int32()),
        value: Value::Int32(5),
    };
    for text in [
        r#"{"payload":5,"schema":{"type":"int32"}}"#,
        "\n{ \"schema\" : { \"type\" : \"int32\" } ,\n  \"payload\" : 5 }\n",
        r#"{"sch\u0065ma":{"type":"int32"},"payload":5}"#,
        r#"{"schema":{"type":"int32"},"payload":4,"payload":5}"#,
    ] {
        assert_eq!(read(&c, text).unwrap(), expected, "{text}");
    }
}

#[test]
fn strings_share_the_record_buffer() {
    let c = converter(&[]);
    let text = Bytes::from(br#"{"schema":{"type":"string"},"payload":"plain"}"#.to_vec());
    let sv = c.to_connect("t", Some(text.clone())).unwrap();
    let Value::String(s) = &sv.value else {
        panic!("{sv:?}")
    };
    assert!(
        text.as_ptr_range().contains(&s.as_ptr()),
        "the string was copied"
    );
    let escaped = read(&c, r#"{"schema":{"type":"string"},"payload":"a\nb\u00e9"}"#).unwrap();
    assert_eq!(escaped.value, Value::from("a\nbé"));
}

#[test]
fn schemas_are_cached_within_the_bound() {
    let c = converter(&[]);
    let a = read(&c, r#"{"schema":{"type":"int32"},"payload":1}"#)
        .unwrap()
        .schema
        .unwrap();
    let b = read(&c, r#"{"schema":{"type":"int32"},"payload":2}"#)
        .unwrap()
        .schema
        .unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    let uncached = converter(&[("schemas.cache.size", "-1")]);
    let a = read(&uncached, r#"{"schema":{"type":"int32"},"payload":1}"#)
        .unwrap()
        .schema
        .unwrap();
    let b = read(&uncached, r#"{"schema":{"type":"int32"},"payload":1}"#)
        .unwrap()
        .schema
        .unwrap();
    assert!(!Arc::ptr_eq(&a, &b));
    let one = converter(&[("schemas.cache.size", "1")]);
    read(&one, r#"{"schema":{"type":"int32"},"payload":1}"#).unwrap();
    read(&one, r#"{"schema":{"type":"int64"},"payload":1}"#).unwrap();
    assert_eq!(one.cache.schemas.lock().unwrap().len(), 1);
}

#[test]
fn config_errors_are_all_reported() {
    let props: Props = [
        ("schemas.enable", "maybe"),
        ("schemas.cache.size", "ten"),
        ("decimal.format", "HEX"),
        ("converter.type", "value"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let errors = JsonConverter::new(&props).unwrap_err();
    let messages: Vec<&str> = errors.iter().map(|(_, m)| m).collect();
    assert_eq!(
        messages,
        [
            "Invalid value maybe for configuration schemas.enable: Expected value to be either true or false",
            "Invalid value ten for configuration schemas.cache.size: Not a number of type INT",
            "Invalid value HEX for configuration decimal.format: String must be one of (case insensitive): BASE64, NUMERIC",
        ]
    );
}

#[test]
fn registered_under_kafkas_names() {
    let plugins = plugins();
    assert_eq!(plugins.len(), 2);
    assert!(plugins
        .iter()
        .all(|p| p.matches("JsonConverter") && p.class == CLASS));
    let def = &plugins[0].config_def;
    let defaults: Vec<_> = def
        .keys()
        .iter()
        .map(|k| (k.name.as_str(), k.default.clone()))
        .collect();
    use crate::config::DefaultValue::Value as D;
    assert_eq!(
        defaults,
        [
            ("schemas.enable", D("true".into())),
            ("schemas.cache.size", D("1000".into())),
            ("decimal.format", D("BASE64".into())),
            ("replace.null.with.default", D("true".into())),
        ]
    );
    let PluginFactory::Converter(factory) = &plugins[0].factory else {
        panic!("not a converter")
    };
    let c = factory(&Props::new(), true).unwrap();
    assert_eq!(c.to_connect("t", None).unwrap(), SchemaAndValue::default());
}
