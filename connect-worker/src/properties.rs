//! Java `.properties` files, as Kafka Connect reads its worker and connector configs.
//!
//! Supported: `key=value`, `key: value` and `key value`; `#` and `!` comments; lines continued
//! with a trailing backslash; the escapes `\t \n \r \f \\ \= \: \# \! \ ` and `\uXXXX`.

use std::collections::BTreeMap;

/// A problem in a properties file, with its line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct PropertiesError {
    pub line: usize,
    pub message: String,
}

/// Parses properties text into a map; a key given twice keeps its last value, as in Java.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, PropertiesError> {
    let mut props = BTreeMap::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, first)) = lines.next() {
        let line_no = index + 1;
        let trimmed = first.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        // Join continuation lines: an odd number of trailing backslashes continues the line.
        let mut logical = String::from(trimmed);
        while ends_with_continuation(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split_key_value(&logical);
        let key = unescape(key).map_err(|message| PropertiesError {
            line: line_no,
            message,
        })?;
        let value = unescape(value).map_err(|message| PropertiesError {
            line: line_no,
            message,
        })?;
        props.insert(key, value);
    }
    Ok(props)
}

fn ends_with_continuation(line: &str) -> bool {
    line.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

/// Splits at the first unescaped `=`, `:` or whitespace; the separator and whitespace around
/// it are dropped. Both parts stay escaped.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' | ' ' | '\t' | '\x0c' => {
                let key = &line[..i];
                let mut rest = line[i..].trim_start_matches([' ', '\t', '\x0c']);
                if c.is_whitespace() || c == '\x0c' {
                    if let Some(r) = rest.strip_prefix(['=', ':']) {
                        rest = r;
                    }
                } else {
                    rest = &rest[1..];
                }
                return (key, rest.trim_start_matches([' ', '\t', '\x0c']));
            }
            _ => {}
        }
    }
    (line, "")
}

fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4)
                    .ok_or_else(|| format!("malformed \\uXXXX escape: \\u{hex}"))?;
                out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_separators_comments_and_continuations_java_reads() {
        let text = "# worker\n\
                    ! also a comment\n\
                    bootstrap.servers=localhost:9092\n\
                    key.converter : org.apache.kafka.connect.json.JsonConverter\n\
                    plugin.path /opt/plugins\n\
                    \n   \n\
                    listeners = http://a:1,\\\n     http://b:2\n\
                    empty=\n\
                    bare\n\
                    path=C:\\\\data\\\\x\n\
                    key\\ with\\ spaces=v\\u00e9\n\
                    dup=1\n\
                    dup=2\n";
        let props = parse(text).unwrap();
        let get = |k: &str| props.get(k).map(String::as_str);
        assert_eq!(get("bootstrap.servers"), Some("localhost:9092"));
        assert_eq!(
            get("key.converter"),
            Some("org.apache.kafka.connect.json.JsonConverter")
        );
        assert_eq!(get("plugin.path"), Some("/opt/plugins"));
        assert_eq!(get("listeners"), Some("http://a:1,http://b:2"));
        assert_eq!(get("empty"), Some(""));
        assert_eq!(get("bare"), Some(""));
        assert_eq!(get("path"), Some("C:\\data\\x"));
        assert_eq!(get("key with spaces"), Some("vé"));
        assert_eq!(get("dup"), Some("2"));
        assert_eq!(props.len(), 9);
    }

    #[test]
    fn values_keep_separators_after_the_first() {
        let props = parse("url=redis://user:pw@host:6379/0?x=y\n").unwrap();
        assert_eq!(props["url"], "redis://user:pw@host:6379/0?x=y");
    }

    #[test]
    fn a_malformed_unicode_escape_names_its_line() {
        let err = parse("a=1\nb=\\u12\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.to_string().contains("\\uXXXX"), "{err}");
    }
}
