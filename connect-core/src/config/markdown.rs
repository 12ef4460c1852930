//! A [`ConfigDef`] as a Markdown reference table, for connector documentation generated from
//! the code (so the two cannot drift), and the check that a document holds the current one.

use std::fmt::Write as _;
use std::path::Path;

use super::def::{ConfigDef, DefaultValue, Validator};

/// Where a generated section starts and ends in a Markdown document.
pub const BEGIN_GENERATED: &str =
    "<!-- BEGIN GENERATED: do not edit; see ConfigDef::to_markdown -->";
/// See [`BEGIN_GENERATED`].
pub const END_GENERATED: &str = "<!-- END GENERATED -->";

impl ConfigDef {
    /// One table row per key, grouped as defined: key, type, default, valid values,
    /// importance and documentation.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let mut groups = self.groups();
        if self.keys().iter().any(|k| k.group.is_none()) {
            groups.push(String::new());
        }
        for group in groups {
            if !group.is_empty() {
                let _ = writeln!(out, "### {group}\n");
            }
            out.push_str("| Key | Type | Default | Valid values | Importance | Description |\n");
            out.push_str("|---|---|---|---|---|---|\n");
            for key in self
                .keys()
                .iter()
                .filter(|k| k.group.as_deref().unwrap_or("") == group)
            {
                let default = match &key.default {
                    DefaultValue::Required => "(required)".to_owned(),
                    DefaultValue::Null => "null".to_owned(),
                    DefaultValue::Value(v) if v.is_empty() => "\"\"".to_owned(),
                    DefaultValue::Value(v) => format!("`{v}`"),
                };
                let valid = key.validator.as_ref().map(describe).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} | {} | {} | {} |",
                    key.name,
                    key.ty.name(),
                    cell(&default),
                    cell(&valid),
                    key.importance.name(),
                    cell(&key.documentation),
                );
            }
            out.push('\n');
        }
        out
    }
}

/// Escapes what would break a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn describe(validator: &Validator) -> String {
    match validator {
        Validator::Range { min, max } => match (min, max) {
            (Some(min), Some(max)) => format!("[{min},...,{max}]"),
            (Some(min), None) => format!("[{min},...]"),
            (None, Some(max)) => format!("[...,{max}]"),
            (None, None) => String::new(),
        },
        Validator::OneOf(values) | Validator::OneOfIgnoreCase(values) => values.join(", "),
        Validator::NonEmptyString => "non-empty string".to_owned(),
        Validator::Regex(re) => format!("matches `{}`", re.as_str()),
        Validator::EachItem(inner) => describe(inner),
        Validator::Custom(_) => String::new(),
    }
}

/// Checks that the Markdown file at `path` holds `generated` between [`BEGIN_GENERATED`] and
/// [`END_GENERATED`]; with `UPDATE_DOCS=1` in the environment, writes it there instead.
/// The error says what is wrong and how to fix it.
pub fn check_generated_section(path: &Path, generated: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let (Some(begin), Some(end)) = (text.find(BEGIN_GENERATED), text.find(END_GENERATED)) else {
        return Err(format!(
            "{} has no generated section: add the lines {BEGIN_GENERATED} and {END_GENERATED}",
            path.display()
        ));
    };
    let start = begin + BEGIN_GENERATED.len();
    let current = text[start..end].trim();
    check_or_update(path, current == generated.trim(), || {
        format!(
            "{}\n\n{}\n\n{}",
            &text[..start],
            generated.trim(),
            &text[end..]
        )
    })
}

/// Checks that the whole file at `path` is `generated` (a file that cannot hold markers,
/// such as `docs/openapi.json`); with `UPDATE_DOCS=1`, writes it (creating it if need be).
pub fn check_generated_file(path: &Path, generated: &str) -> Result<(), String> {
    let current = std::fs::read_to_string(path).unwrap_or_default();
    check_or_update(path, current == generated, || generated.to_owned())
}

/// The rule both checks share: up to date, or rewritten under `UPDATE_DOCS=1`, or an error
/// that says how to regenerate the file.
fn check_or_update(
    path: &Path,
    up_to_date: bool,
    updated: impl FnOnce() -> String,
) -> Result<(), String> {
    if up_to_date {
        return Ok(());
    }
    if std::env::var_os("UPDATE_DOCS").is_some_and(|v| v == "1") {
        return std::fs::write(path, updated())
            .map_err(|e| format!("cannot write {}: {e}", path.display()));
    }
    Err(format!(
        "{} is out of date with the code: rerun the test with UPDATE_DOCS=1 to regenerate it",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::super::{ConfigKey, ConfigType, Importance};
    use super::*;

    #[test]
    fn tables_by_group() {
        let def = ConfigDef::new()
            .define(
                ConfigKey::new("a.b", ConfigType::Int)
                    .default_value("5")
                    .validator(Validator::between(1, 9))
                    .importance(Importance::High)
                    .group("G", 1)
                    .doc("The a|b."),
            )
            .define(ConfigKey::new("c", ConfigType::String).doc("C."));
        let md = def.to_markdown();
        assert!(md.starts_with("### G\n\n| Key |"), "{md}");
        assert!(
            md.contains("| `a.b` | INT | `5` | [1,...,9] | HIGH | The a\\|b. |"),
            "{md}"
        );
        assert!(
            md.contains("| `c` | STRING | (required) |  | MEDIUM | C. |"),
            "{md}"
        );
    }

    #[test]
    fn generated_sections_are_checked_and_updated() {
        let dir = std::env::temp_dir().join(format!("md-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("doc.md");
        std::fs::write(
            &path,
            format!("# T\n{BEGIN_GENERATED}\nold\n{END_GENERATED}\ntail\n"),
        )
        .unwrap();
        let err = check_generated_section(&path, "new").unwrap_err();
        assert!(err.contains("UPDATE_DOCS=1"), "{err}");
        assert!(check_generated_section(&path, "old").is_ok());
        std::fs::write(&path, "no markers").unwrap();
        assert!(check_generated_section(&path, "x")
            .unwrap_err()
            .contains("no generated section"));
        let file = dir.join("doc.json");
        std::fs::write(&file, "{}\n").unwrap();
        assert!(check_generated_file(&file, "{}\n").is_ok());
        let err = check_generated_file(&file, "{}").unwrap_err();
        assert!(err.contains("UPDATE_DOCS=1"), "{err}");
        assert!(check_generated_file(&dir.join("missing.json"), "{}").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
