//! Kafka Connect's REST bodies for configuration definitions and validation:
//! `GET /connector-plugins/{p}/config` and `PUT /connector-plugins/{p}/config/validate`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::def::{ConfigDef, ConfigErrors, ConfigKey, ConfigType, DefaultValue};
use super::value::{ConfigValue, Password};

/// A key's definition, as `GET /connector-plugins/{p}/config` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigKeyInfo {
    /// The key's name.
    pub name: String,
    /// The key's type name (`STRING`, `INT`, ...), shown as `type`.
    #[serde(rename = "type")]
    pub ty: &'static str,
    /// Whether the key has no default and must be given.
    pub required: bool,
    /// The default as a user would write it (`[hidden]` for passwords); `None` when there is none.
    pub default_value: Option<String>,
    /// The importance name (`HIGH`, `MEDIUM` or `LOW`).
    pub importance: &'static str,
    /// The key's description.
    pub documentation: String,
    /// The group the key belongs to, if any.
    pub group: Option<String>,
    /// The key's position within its group; -1 when not given.
    pub order: i32,
    /// The UI width name (`NONE`, `SHORT`, `MEDIUM` or `LONG`).
    pub width: &'static str,
    /// The name UIs show for the key.
    pub display_name: String,
    /// Keys whose meaning depends on this one.
    pub dependents: Vec<String>,
}

impl From<&ConfigKey> for ConfigKeyInfo {
    fn from(key: &ConfigKey) -> Self {
        Self {
            name: key.name.clone(),
            ty: key.ty.name(),
            required: key.is_required(),
            default_value: match &key.default {
                DefaultValue::Value(_) if key.ty == ConfigType::Password => {
                    Some(Password::HIDDEN.to_owned())
                }
                DefaultValue::Value(v) => Some(v.clone()),
                DefaultValue::Required | DefaultValue::Null => None,
            },
            importance: key.importance.name(),
            documentation: key.documentation.clone(),
            group: key.group.clone(),
            order: key.order_in_group,
            width: key.width.name(),
            display_name: key.display_name.clone(),
            dependents: key.dependents.clone(),
        }
    }
}

/// A key's value and problems, as `/config/validate` reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigValueInfo {
    /// The key's name.
    pub name: String,
    /// The parsed value, or the raw one when invalid (`[hidden]` for passwords); `None` if none.
    pub value: Option<String>,
    /// Values a UI may offer for the key.
    pub recommended_values: Vec<String>,
    /// Every problem found with the value; empty when it is valid.
    pub errors: Vec<String>,
    /// Whether UIs should show the key; always `true` here.
    pub visible: bool,
}

/// A key's definition with its value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigInfo {
    /// The key's definition.
    pub definition: ConfigKeyInfo,
    /// The key's value and problems.
    pub value: ConfigValueInfo,
}

/// The body of `PUT /connector-plugins/{p}/config/validate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigInfos {
    /// The name given to [`ConfigDef::validate`], usually the connector's class name.
    pub name: String,
    /// The total number of problems over all keys.
    pub error_count: usize,
    /// The key groups, in order of first appearance.
    pub groups: Vec<String>,
    /// Each key's definition and value.
    pub configs: Vec<ConfigInfo>,
}

impl ConfigDef {
    /// Every key's definition, for `GET /connector-plugins/{p}/config`.
    pub fn key_infos(&self) -> Vec<ConfigKeyInfo> {
        self.keys().iter().map(ConfigKeyInfo::from).collect()
    }

    /// Checks `props` against every key and reports each key's value and problems, plus the
    /// problems in `extra` (e.g. from a connector's own cross-key checks), for
    /// `/config/validate`. Password values show as `[hidden]`.
    pub fn validate(
        &self,
        name: &str,
        props: &BTreeMap<String, String>,
        extra: &ConfigErrors,
    ) -> ConfigInfos {
        let configs: Vec<ConfigInfo> = self
            .keys()
            .iter()
            .map(|key| {
                let raw = props.get(&key.name).map(String::as_str);
                let (value, mut errors) = match key.parse(raw) {
                    Ok(ConfigValue::Null) => (None, Vec::new()),
                    Ok(parsed) => (Some(parsed.to_string()), Vec::new()),
                    Err(message) => (
                        raw.map(|r| match key.ty {
                            ConfigType::Password => Password::HIDDEN.to_owned(),
                            _ => r.to_owned(),
                        }),
                        vec![message],
                    ),
                };
                errors.extend(extra.for_key(&key.name).map(str::to_owned));
                ConfigInfo {
                    definition: ConfigKeyInfo::from(key),
                    value: ConfigValueInfo {
                        name: key.name.clone(),
                        value,
                        recommended_values: key.recommended_values.clone(),
                        errors,
                        visible: true,
                    },
                }
            })
            .collect();
        let mut configs = configs;
        // Problems of keys this definition does not hold (transforms' keys, client overrides)
        // get an entry of their own, so none is lost from the response. Their type is unknown
        // here, so the value (perhaps a secret) is not echoed.
        let undefined: std::collections::BTreeSet<&str> = extra
            .iter()
            .map(|(key, _)| key)
            .filter(|key| self.key(key).is_none())
            .collect();
        for key in undefined {
            configs.push(ConfigInfo {
                definition: ConfigKeyInfo::from(
                    &ConfigKey::new(key, ConfigType::String).optional(),
                ),
                value: ConfigValueInfo {
                    name: key.to_owned(),
                    value: None,
                    recommended_values: Vec::new(),
                    errors: extra.for_key(key).map(str::to_owned).collect(),
                    visible: true,
                },
            });
        }
        ConfigInfos {
            name: name.to_owned(),
            error_count: configs.iter().map(|c| c.value.errors.len()).sum(),
            groups: self.groups(),
            configs,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::{ConfigKey, Importance, Validator, Width};

    fn def() -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new("redis.uri", ConfigType::String)
                    .default_value("redis://localhost:6379")
                    .importance(Importance::High)
                    .doc("Redis URI")
                    .group("Redis", 1)
                    .width(Width::Medium)
                    .display_name("URI"),
            )
            .define(
                ConfigKey::new("redis.password", ConfigType::Password)
                    .optional()
                    .group("Redis", 2),
            )
            .define(
                ConfigKey::new("batch.size", ConfigType::Int)
                    .default_value("500")
                    .validator(Validator::at_least(1)),
            )
    }

    #[test]
    fn key_info_has_kafka_connects_shape() {
        let infos = serde_json::to_value(def().key_infos()).unwrap();
        assert_eq!(
            infos[0],
            json!({
                "name": "redis.uri", "type": "STRING", "required": false,
                "default_value": "redis://localhost:6379", "importance": "HIGH",
                "documentation": "Redis URI", "group": "Redis", "order": 1, "width": "MEDIUM",
                "display_name": "URI", "dependents": []
            })
        );
        assert_eq!(infos[1]["default_value"], json!(null));
        assert_eq!(infos[2]["group"], json!(null));
        assert_eq!(infos[2]["order"], json!(-1));
    }

    #[test]
    fn validate_reports_values_errors_and_hides_passwords() {
        let props = BTreeMap::from([
            ("redis.password".to_owned(), "s3cret".to_owned()),
            ("batch.size".to_owned(), "0".to_owned()),
        ]);
        let mut extra = ConfigErrors::default();
        extra.add("redis.uri", "cannot reach Redis");
        let infos = def().validate("RedisSinkConnector", &props, &extra);
        let body = serde_json::to_value(&infos).unwrap();
        assert_eq!(body["name"], "RedisSinkConnector");
        assert_eq!(body["error_count"], 2);
        assert_eq!(body["groups"], json!(["Redis"]));
        assert_eq!(
            body["configs"][0]["value"],
            json!({"name": "redis.uri", "value": "redis://localhost:6379",
                   "recommended_values": [], "errors": ["cannot reach Redis"], "visible": true})
        );
        assert_eq!(body["configs"][1]["value"]["value"], "[hidden]");
        assert_eq!(
            body["configs"][2]["value"]["errors"],
            json!(["Invalid value 0 for configuration batch.size: Value must be at least 1"])
        );
        assert!(!body.to_string().contains("s3cret"));
    }

    #[test]
    fn problems_of_undefined_keys_get_an_entry_without_their_value() {
        let props = BTreeMap::from([(
            "producer.override.sasl.jaas.config".to_owned(),
            "s3cret".to_owned(),
        )]);
        let mut extra = ConfigErrors::default();
        extra.add("producer.override.sasl.jaas.config", "first problem");
        extra.add("redis.uri", "a defined key");
        extra.add("producer.override.sasl.jaas.config", "second problem");
        let infos = def().validate("RedisSinkConnector", &props, &extra);
        assert_eq!(infos.error_count, 3);
        let body = serde_json::to_value(&infos).unwrap();
        let entry = body["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["value"]["name"] == "producer.override.sasl.jaas.config")
            .unwrap();
        assert_eq!(
            entry["value"]["errors"],
            json!(["first problem", "second problem"])
        );
        assert!(entry["value"]["value"].is_null());
        assert!(!body.to_string().contains("s3cret"));
    }
}
