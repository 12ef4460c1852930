//! Config providers, as Kafka's (KIP-297, KIP-421): a connector configuration may say
//! `${env:NAME}`, `${file:/path/to/file.properties:key}` or `${directory:/path:file}` instead
//! of a secret. The worker stores and shows the configuration as written and resolves the
//! variables only when it checks a configuration and when a connector or task starts, so a
//! secret is read fresh at each start and is never written to the config store nor shown
//! over REST.
//!
//! Worker keys: `config.providers=env,file,directory` and, optionally,
//! `config.providers.<name>.class` (Kafka's class names; a provider named `env`, `file` or
//! `directory` may leave it out).

use std::collections::BTreeMap;
use std::path::Path;

use connect_core::config::Props;

/// One provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `${name:VARIABLE}`: an environment variable of the worker.
    Env,
    /// `${name:/path/file.properties:key}`: a key of a properties file.
    File,
    /// `${name:/dir:file}`: the contents of a file in a directory (Kubernetes secrets).
    Directory,
}

impl Kind {
    fn from_class(class: &str) -> Option<Self> {
        Some(match class.rsplit('.').next().unwrap_or(class) {
            "EnvVarConfigProvider" | "env" => Self::Env,
            "FileConfigProvider" | "file" => Self::File,
            "DirectoryConfigProvider" | "directory" => Self::Directory,
            _ => return None,
        })
    }
}

/// The providers a worker has.
#[derive(Debug, Clone, Default)]
pub struct ConfigProviders {
    providers: BTreeMap<String, Kind>,
}

impl ConfigProviders {
    /// The providers named in a worker configuration; the error names the bad key.
    pub fn from_worker(props: &Props) -> Result<Self, String> {
        let mut providers = BTreeMap::new();
        let names = props
            .get("config.providers")
            .map(String::as_str)
            .unwrap_or("");
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let key = format!("config.providers.{name}.class");
            let class = props.get(&key).map(String::as_str).unwrap_or(name);
            let kind = Kind::from_class(class).ok_or_else(|| {
                format!(
                    "{key}: unknown config provider '{class}' (known: org.apache.kafka.common.config.provider.EnvVarConfigProvider, FileConfigProvider, DirectoryConfigProvider)"
                )
            })?;
            providers.insert(name.to_owned(), kind);
        }
        Ok(Self { providers })
    }

    /// Whether any provider is configured.
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// `props` with every `${provider:...}` of a configured provider replaced. Variables of
    /// unknown providers stay as written, as in Kafka. The error names the key and the
    /// variable, never a value.
    pub fn resolve(&self, props: &Props) -> Result<Props, ResolveError> {
        if self.providers.is_empty() {
            return Ok(props.clone());
        }
        let mut out = Props::new();
        for (key, value) in props {
            let resolved = self.resolve_value(value).map_err(|problem| ResolveError {
                key: key.clone(),
                problem,
            })?;
            out.insert(key.clone(), resolved);
        }
        Ok(out)
    }

    fn resolve_value(&self, value: &str) -> Result<String, String> {
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return Ok(out);
            };
            let variable = &after[..end];
            match self.lookup(variable)? {
                Some(v) => out.push_str(&v),
                None => {
                    out.push_str("${");
                    out.push_str(variable);
                    out.push('}');
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The value of `provider:[path:]key`, `None` when `provider` is not one of ours.
    fn lookup(&self, variable: &str) -> Result<Option<String>, String> {
        let Some((name, rest)) = variable.split_once(':') else {
            return Ok(None);
        };
        let Some(kind) = self.providers.get(name) else {
            return Ok(None);
        };
        let shown = format!("${{{variable}}}");
        match kind {
            Kind::Env => std::env::var(rest)
                .map(Some)
                .map_err(|_| format!("{shown}: the environment variable {rest} is not set")),
            Kind::File => {
                let (path, key) = rest
                    .rsplit_once(':')
                    .ok_or_else(|| format!("{shown}: expected ${{{name}:/path/to/file:key}}"))?;
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("{shown}: cannot read {path}: {e}"))?;
                let props = crate::properties::parse(&text)
                    .map_err(|e| format!("{shown}: {path} is not a properties file: {e}"))?;
                props
                    .get(key)
                    .cloned()
                    .map(Some)
                    .ok_or_else(|| format!("{shown}: {path} has no key {key}"))
            }
            Kind::Directory => {
                let (dir, file) = rest
                    .rsplit_once(':')
                    .ok_or_else(|| format!("{shown}: expected ${{{name}:/path/to/dir:file}}"))?;
                if file.contains('/') || file == ".." {
                    return Err(format!(
                        "{shown}: the file must be a name within the directory"
                    ));
                }
                let path = Path::new(dir).join(file);
                std::fs::read_to_string(&path)
                    .map(Some)
                    .map_err(|e| format!("{shown}: cannot read {}: {e}", path.display()))
            }
        }
    }
}

/// A variable that could not be resolved: the key it is in and what went wrong (which names
/// the variable, never a value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ResolveError {
    pub key: String,
    pub problem: String,
}

impl ResolveError {
    /// As a configuration problem of its key, for the 400 of an invalid configuration.
    pub fn config_errors(&self) -> connect_core::config::ConfigErrors {
        let mut errors = connect_core::config::ConfigErrors::default();
        errors.add(&self.key, self.to_string());
        errors
    }
}

/// The task configurations a connector generated from resolved settings, with every value
/// it copied from a resolved one written as the original (`${file:...}`) again, so that
/// task configurations too hold no secret; they are resolved when each task starts.
pub fn unresolve(tasks: Vec<Props>, raw: &Props, resolved: &Props) -> Vec<Props> {
    tasks
        .into_iter()
        .map(|task| {
            task.into_iter()
                .map(|(key, value)| {
                    let original = match (raw.get(&key), resolved.get(&key)) {
                        (Some(raw), Some(resolved)) if raw != resolved && *resolved == value => {
                            raw.clone()
                        }
                        _ => value,
                    };
                    (key, original)
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use connect_core::config::props;

    use super::*;

    fn providers() -> ConfigProviders {
        ConfigProviders::from_worker(&props(&[
            ("config.providers", "env,file,secrets"),
            (
                "config.providers.file.class",
                "org.apache.kafka.common.config.provider.FileConfigProvider",
            ),
            (
                "config.providers.secrets.class",
                "org.apache.kafka.common.config.provider.DirectoryConfigProvider",
            ),
        ]))
        .unwrap()
    }

    #[test]
    fn variables_resolve_from_files_directories_and_the_environment() {
        let dir = std::env::temp_dir().join(format!("providers-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("redis.properties"),
            "redis.password=s3cret\nuser = ann\n",
        )
        .unwrap();
        std::fs::write(dir.join("token"), "t0ken").unwrap();
        std::env::set_var("CONNECT_PROVIDER_TEST", "from-env");
        let file = dir.join("redis.properties");
        let given = props(&[
            (
                "redis.password",
                &format!("${{file:{}:redis.password}}", file.display()),
            ),
            (
                "redis.uri",
                &format!("redis://${{file:{}:user}}@h:1", file.display()),
            ),
            ("token", &format!("${{secrets:{}:token}}", dir.display())),
            ("env", "${env:CONNECT_PROVIDER_TEST}"),
            ("other", "${vault:x:y} and ${topic}"),
        ]);
        let resolved = providers().resolve(&given).unwrap();
        assert_eq!(resolved["redis.password"], "s3cret");
        assert_eq!(resolved["redis.uri"], "redis://ann@h:1");
        assert_eq!(resolved["token"], "t0ken");
        assert_eq!(resolved["env"], "from-env");
        assert_eq!(resolved["other"], "${vault:x:y} and ${topic}");

        let missing = props(&[("p", &format!("${{file:{}:nope}}", file.display()))]);
        let err = providers().resolve(&missing).unwrap_err().to_string();
        assert!(
            err.starts_with("p: ${file:") && err.contains("has no key nope"),
            "{err}"
        );
        assert!(!err.contains("s3cret"));
        let escape = props(&[("p", &format!("${{secrets:{}:../etc}}", dir.display()))]);
        assert!(providers()
            .resolve(&escape)
            .unwrap_err()
            .to_string()
            .contains("within the directory"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unknown_classes_are_refused() {
        let err = ConfigProviders::from_worker(&props(&[
            ("config.providers", "vault"),
            ("config.providers.vault.class", "com.example.Vault"),
        ]))
        .unwrap_err();
        assert!(err.starts_with("config.providers.vault.class"), "{err}");
    }

    #[test]
    fn task_configs_get_the_variables_back() {
        let raw = props(&[("redis.password", "${file:/s:p}"), ("topics", "t")]);
        let resolved = props(&[("redis.password", "s3cret"), ("topics", "t")]);
        let tasks = vec![props(&[
            ("redis.password", "s3cret"),
            ("topics", "t"),
            ("task.id", "0"),
        ])];
        let tasks = unresolve(tasks, &raw, &resolved);
        assert_eq!(tasks[0]["redis.password"], "${file:/s:p}");
        assert_eq!(tasks[0]["task.id"], "0");
    }
}
