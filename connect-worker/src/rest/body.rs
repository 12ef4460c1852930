//! The shapes of request bodies, checked by hand from parsed JSON so that every mistake gets a
//! 400 that names the field at fault (serde's derive would say "invalid type" at a column).
//!
//! Configuration values follow Kafka Connect, which reads them into a `Map<String, String>`
//! with Jackson: a number or boolean is taken as its JSON text (`"tasks.max": 1` works);
//! objects and arrays are refused.

use serde_json::{Map, Value};

use connect_core::config::Props;

use super::error::ApiError;
use crate::herder::PartitionOffset;
use crate::store::TargetState;

/// `POST /connectors`: `{"name", "config", "initial_state"?}`.
#[derive(Debug)]
pub struct CreateRequest {
    /// The connector's name, trimmed as Kafka Connect does; empty when not given (the
    /// herder then reports the invalid name with the other configuration problems).
    pub name: String,
    /// The connector's configuration.
    pub config: Props,
    /// `initial_state`, `RUNNING` when not given.
    pub initial_state: TargetState,
}

/// Reads a `POST /connectors` body.
pub fn create_request(body: Value) -> Result<CreateRequest, ApiError> {
    let mut object = object(body, "The request body")?;
    let name = match object.remove("name") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(name)) => name.trim().to_owned(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "\"name\" must be a string, got {}",
                kind(&other)
            )))
        }
    };
    let config =
        match object.remove("config") {
            None | Some(Value::Null) => return Err(ApiError::bad_request(
                "The request body must have \"config\": an object of the connector's configuration",
            )),
            Some(config) => config_map(config, "\"config\"")?,
        };
    let initial_state = match object.remove("initial_state") {
        None | Some(Value::Null) => TargetState::Started,
        Some(Value::String(state)) => target_state(&state)?,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "\"initial_state\" must be a string, got {}",
                kind(&other)
            )))
        }
    };
    Ok(CreateRequest {
        name,
        config,
        initial_state,
    })
}

/// `initial_state` as Kafka Connect reads it (KIP-980): case-insensitive.
fn target_state(state: &str) -> Result<TargetState, ApiError> {
    match state.to_ascii_uppercase().as_str() {
        "RUNNING" => Ok(TargetState::Started),
        "PAUSED" => Ok(TargetState::Paused),
        "STOPPED" => Ok(TargetState::Stopped),
        _ => Err(ApiError::bad_request(format!(
            "Invalid initial_state '{state}': expected RUNNING, PAUSED or STOPPED"
        ))),
    }
}

/// A flat configuration object (`PUT /connectors/{name}/config`, `POST /connectors`'
/// `config`, `/config/validate`). `what` names the object in messages.
pub fn config_map(body: Value, what: &str) -> Result<Props, ApiError> {
    let object = object(body, what)?;
    let mut props = Props::new();
    let mut bad = Vec::new();
    for (key, value) in object {
        match scalar(value) {
            Ok(Some(text)) => {
                props.insert(key, text);
            }
            Ok(None) => bad.push(format!("{key} (null)")),
            Err(other) => bad.push(format!("{key} ({other})")),
        }
    }
    if bad.is_empty() {
        Ok(props)
    } else {
        Err(values_must_be_strings(what, &bad))
    }
}

/// A `PATCH /connectors/{name}/config` body: `null` removes a key.
pub fn config_patch(
    body: Value,
) -> Result<std::collections::BTreeMap<String, Option<String>>, ApiError> {
    let what = "The configuration patch";
    let object = object(body, what)?;
    let mut patch = std::collections::BTreeMap::new();
    let mut bad = Vec::new();
    for (key, value) in object {
        match scalar(value) {
            Ok(text) => {
                patch.insert(key, text);
            }
            Err(other) => bad.push(format!("{key} ({other})")),
        }
    }
    if bad.is_empty() {
        Ok(patch)
    } else {
        Err(values_must_be_strings(what, &bad))
    }
}

/// A `PATCH /connectors/{name}/offsets` body: `{"offsets": [{"partition": {..}, "offset":
/// {..} | null}]}`. A missing or empty list is Kafka Connect's 400.
pub fn offsets(body: Value) -> Result<Vec<PartitionOffset>, ApiError> {
    let missing = || {
        ApiError::bad_request(
            "Partitions / offsets need to be provided for an alter offsets request",
        )
    };
    let mut request = object(body, "The request body")?;
    let entries = match request.remove("offsets") {
        None | Some(Value::Null) => return Err(missing()),
        Some(Value::Array(entries)) if entries.is_empty() => return Err(missing()),
        Some(Value::Array(entries)) => entries,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "\"offsets\" must be an array, got {}",
                kind(&other)
            )))
        }
    };
    entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let mut entry = object(entry, &format!("offsets[{i}]"))?;
            let partition = match entry.remove("partition") {
                Some(Value::Object(partition)) => partition,
                None | Some(Value::Null) => {
                    return Err(ApiError::bad_request(format!(
                        "offsets[{i}]: the partition may not be null or missing"
                    )))
                }
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "offsets[{i}]: the partition must be an object, got {}",
                        kind(&other)
                    )))
                }
            };
            // As in Kafka Connect, a missing offset is a null one: that partition's offset
            // is removed.
            let offset = match entry.remove("offset") {
                None | Some(Value::Null) => None,
                Some(Value::Object(offset)) => Some(offset),
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "offsets[{i}]: the offset must be an object or null, got {}",
                        kind(&other)
                    )))
                }
            };
            Ok(PartitionOffset { partition, offset })
        })
        .collect()
}

fn object(body: Value, what: &str) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(object) => Ok(object),
        other => Err(ApiError::bad_request(format!(
            "{what} must be a JSON object, got {}",
            kind(&other)
        ))),
    }
}

/// A configuration value as text; `Ok(None)` for null; `Err` names the refused JSON type.
fn scalar(value: Value) -> Result<Option<String>, &'static str> {
    match value {
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Null => Ok(None),
        other => Err(kind(&other)),
    }
}

fn values_must_be_strings(what: &str, bad: &[String]) -> ApiError {
    ApiError::bad_request(format!(
        "{what} must map keys to string values; these values are not strings: {}",
        bad.join(", ")
    ))
}

/// A JSON value's type, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn config_values_are_strings_numbers_or_booleans() {
        let props = config_map(
            json!({"a": "x", "tasks.max": 2, "ratio": 1.5, "flag": true}),
            "\"config\"",
        )
        .unwrap();
        assert_eq!(props["a"], "x");
        assert_eq!(props["tasks.max"], "2");
        assert_eq!(props["ratio"], "1.5");
        assert_eq!(props["flag"], "true");
        let err =
            config_map(json!({"a": {"b": 1}, "c": [1], "d": null}), "\"config\"").unwrap_err();
        assert_eq!(
            err.message,
            "\"config\" must map keys to string values; these values are not strings: a (an object), c (an array), d (null)"
        );
        assert_eq!(
            config_map(json!([1]), "\"config\"").unwrap_err().message,
            "\"config\" must be a JSON object, got an array"
        );
    }

    #[test]
    fn patches_remove_keys_with_null() {
        let patch = config_patch(json!({"a": "1", "b": null})).unwrap();
        assert_eq!(patch["a"].as_deref(), Some("1"));
        assert_eq!(patch["b"], None);
        assert!(config_patch(json!({"a": []})).is_err());
    }

    #[test]
    fn create_requests() {
        let request =
            create_request(json!({"name": " a ", "config": {"k": "v"}, "initial_state": "paused"}))
                .unwrap();
        assert_eq!(request.name, "a");
        assert_eq!(request.initial_state, TargetState::Paused);
        let request = create_request(json!({"config": {}})).unwrap();
        assert_eq!(
            (request.name.as_str(), request.initial_state),
            ("", TargetState::Started)
        );
        assert_eq!(
            create_request(json!({"name": "a"})).unwrap_err().message,
            "The request body must have \"config\": an object of the connector's configuration"
        );
        assert_eq!(
            create_request(json!({"name": "a", "config": {}, "initial_state": "GO"}))
                .unwrap_err()
                .message,
            "Invalid initial_state 'GO': expected RUNNING, PAUSED or STOPPED"
        );
        assert!(create_request(json!({"name": 1, "config": {}})).is_err());
    }

    #[test]
    fn offsets_bodies() {
        let missing = "Partitions / offsets need to be provided for an alter offsets request";
        for body in [json!({}), json!({"offsets": null}), json!({"offsets": []})] {
            assert_eq!(offsets(body).unwrap_err().message, missing);
        }
        let parsed = offsets(json!({"offsets": [
            {"partition": {"f": "x"}, "offset": {"position": 3}},
            {"partition": {"f": "y"}, "offset": null},
            {"partition": {"f": "z"}}
        ]}))
        .unwrap();
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[0].offset.as_ref().unwrap()["position"], json!(3));
        assert!(parsed[1].offset.is_none() && parsed[2].offset.is_none());
        assert_eq!(
            offsets(json!({"offsets": [{"offset": null}]}))
                .unwrap_err()
                .message,
            "offsets[0]: the partition may not be null or missing"
        );
        assert!(offsets(json!({"offsets": [{"partition": {}, "offset": 3}]})).is_err());
        assert!(offsets(json!({"offsets": {}})).is_err());
    }
}
