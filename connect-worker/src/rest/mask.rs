//! Hiding secrets in every response that echoes a configuration.
//!
//! - A key is secret when the definition that reads it has type PASSWORD: the connector's own
//!   keys, the common connector keys, and the keys of the converters, transforms and
//!   predicates the configuration names (under their `key.converter.`, `transforms.<alias>.`,
//!   `predicates.<alias>.` prefixes). Their values are shown as `[hidden]`, as
//!   `/config/validate` already shows them.
//! - No definition says a value is a URI, so in every other value the password of any URI is
//!   masked (`redis://user:********@host`, [`hide_uri_passwords`]).
//!
//! A client that sends either mask back keeps the stored value (`Herder::put_config`).

use std::collections::BTreeSet;

use connect_core::config::{
    hide_uri_passwords, ConfigDef, ConfigInfos, ConfigType, Password, Props,
};
use connect_core::plugin::{PluginKind, Plugins};

use crate::connector_config;

/// `config` with the value of every secret key replaced by `[hidden]` and the passwords in
/// URIs masked.
pub fn masked(mut config: Props, plugins: &Plugins) -> Props {
    let secrets = secret_keys(&config, plugins);
    hide(&mut config, &secrets);
    config
}

/// The keys of `config` (a connector configuration) whose values are secrets. Also used for
/// the connector's task configurations, which reuse the connector's key names.
pub fn secret_keys(config: &Props, plugins: &Plugins) -> BTreeSet<String> {
    let mut secrets = BTreeSet::new();
    let mut add = |prefix: &str, def: &ConfigDef| {
        secrets.extend(
            def.keys()
                .iter()
                .filter(|k| k.ty == ConfigType::Password)
                .map(|k| format!("{prefix}{}", k.name)),
        );
    };
    let find = |name: Option<&String>, kinds: &[PluginKind]| {
        name.and_then(|n| plugins.find(n.trim(), kinds).ok())
    };
    // An unknown class still gets the common keys checked: the configuration is echoed
    // even when it no longer resolves (e.g. a plugin removed since).
    match find(
        config.get("connector.class"),
        &[PluginKind::Source, PluginKind::Sink],
    ) {
        Some(plugin) => {
            add("", &plugin.config_def);
            match plugin.kind() {
                PluginKind::Source => add("", &connector_config::source_def()),
                _ => add("", &connector_config::sink_def()),
            }
        }
        None => add("", &connector_config::common_def()),
    }
    for (key, kind) in [
        ("key.converter", PluginKind::Converter),
        ("value.converter", PluginKind::Converter),
        ("header.converter", PluginKind::HeaderConverter),
    ] {
        if let Some(plugin) = find(config.get(key), &[kind]) {
            add(&format!("{key}."), &plugin.config_def);
        }
    }
    // Client overrides: sasl.jaas.config, ssl.keystore.key, ... under each override prefix.
    for prefix in crate::client_overrides::OVERRIDE_PREFIXES {
        add(prefix, &crate::kafka::security::config_def());
    }
    for (list, kind) in [
        ("transforms", PluginKind::Transformation),
        ("predicates", PluginKind::Predicate),
    ] {
        let aliases = config.get(list).map(String::as_str).unwrap_or("");
        for alias in aliases.split(',').map(str::trim).filter(|a| !a.is_empty()) {
            let prefix = format!("{list}.{alias}.");
            if let Some(plugin) = find(config.get(&format!("{prefix}type")), &[kind]) {
                add(&prefix, &plugin.config_def);
            }
        }
    }
    secrets
}

/// Replaces the values of the `secrets` keys in `props` with `[hidden]`, and masks the
/// passwords of URIs in the others.
pub fn hide(props: &mut Props, secrets: &BTreeSet<String>) {
    for (key, value) in props.iter_mut() {
        if secrets.contains(key) {
            Password::HIDDEN.clone_into(value);
        } else {
            hide_in_place(value);
        }
    }
}

/// A `/config/validate` answer with the passwords of URIs masked in its values and messages
/// (password-typed values are `[hidden]` already).
pub fn masked_infos(mut infos: ConfigInfos) -> ConfigInfos {
    for info in &mut infos.configs {
        let value = &mut info.value;
        value.value.iter_mut().for_each(hide_in_place);
        value.errors.iter_mut().for_each(hide_in_place);
    }
    infos
}

fn hide_in_place(text: &mut String) {
    if let std::borrow::Cow::Owned(hidden) = hide_uri_passwords(text) {
        *text = hidden;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use connect_core::config::ConfigKey;
    use connect_core::plugin::{PluginDescriptor, PluginFactory};
    use connect_core::record::ConnectRecord;
    use connect_core::transforms::Predicate;

    use super::*;

    #[derive(Debug)]
    struct Never;
    impl Predicate for Never {
        fn test(&self, _: &ConnectRecord) -> bool {
            false
        }
    }

    fn plugins() -> Plugins {
        let def = ConfigDef::new()
            .define(ConfigKey::new("token", ConfigType::Password))
            .define(ConfigKey::new("name", ConfigType::String));
        let mut plugins = Plugins::new();
        plugins.add(PluginDescriptor::new(
            "org.example.Secretive",
            "1",
            def,
            PluginFactory::Predicate(Arc::new(|_| Ok(Box::new(Never)))),
        ));
        plugins
    }

    #[test]
    fn plugin_keys_under_their_prefix_are_hidden() {
        let config: Props = [
            ("connector.class", "Unknown"),
            ("predicates", "p, q"),
            ("predicates.p.type", "Secretive"),
            ("predicates.p.token", "s3cret"),
            ("predicates.p.name", "visible"),
            ("predicates.q.type", "Missing"),
            ("predicates.q.token", "shown: q is no known plugin"),
            ("token", "shown: not a connector key"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let shown = masked(config, &plugins());
        assert_eq!(shown["predicates.p.token"], "[hidden]");
        assert_eq!(shown["predicates.p.name"], "visible");
        assert_eq!(shown["predicates.q.token"], "shown: q is no known plugin");
        assert_eq!(shown["token"], "shown: not a connector key");
        assert_eq!(shown["connector.class"], "Unknown");
    }

    #[test]
    fn passwords_in_uris_are_masked_in_every_other_value() {
        let config: Props = [
            ("connector.class", "Unknown"),
            ("redis.uri", "redis://u:s3cret@h:6379"),
            ("anything", "see rediss://:s3cret@h and redis://h:1"),
            ("predicates", "p"),
            ("predicates.p.type", "Secretive"),
            ("predicates.p.token", "redis://u:s3cret@h"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let shown = masked(config, &plugins());
        assert_eq!(shown["redis.uri"], "redis://u:********@h:6379");
        assert_eq!(
            shown["anything"],
            "see rediss://:********@h and redis://h:1"
        );
        assert_eq!(shown["predicates.p.token"], "[hidden]");
    }
}
