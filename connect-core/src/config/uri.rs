//! Passwords inside URIs (`redis://user:password@host`): no [`ConfigType`](super::ConfigType)
//! says a value is a URI, so any text may hold one. [`hide_uri_passwords`] masks the password
//! of every URI in a text: a configuration value, an error message, a status trace, a log line.

use std::borrow::Cow;

/// What a masked URI shows instead of its password: `redis://user:********@host:6379`. Not
/// `[hidden]` (the mask of password-typed values), whose brackets are not allowed in a URI's
/// user info: a masked URI stays a URI.
pub const URI_PASSWORD_MASK: &str = "********";

/// `text` with the password of every `scheme://user:password@host` in it replaced by
/// [`URI_PASSWORD_MASK`].
///
/// - The user info is what comes before the last `@` of the authority, which ends at the first
///   `/`, `?`, `#`, whitespace or quote (so a password must percent-encode those).
/// - User info without `:` is masked whole: Redis URIs (Lettuce's syntax) read
///   `redis://secret@host` as a password.
/// - A password that is one config-provider variable (`${file:/etc/secrets:redis.password}`)
///   names where the secret is, not the secret: it is shown. `${...}` is read as one piece,
///   whatever `/` or `:` it holds.
pub fn hide_uri_passwords(text: &str) -> Cow<'_, str> {
    let mut masked = String::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let separator = from + found;
        let authority_start = separator + 3;
        let authority_end = authority_start + authority_len(&text[authority_start..]);
        from = authority_end;
        if !has_scheme(&text[..separator]) {
            continue;
        }
        let Some(password) = password_range(&text[authority_start..authority_end]) else {
            continue;
        };
        let (start, end) = (
            authority_start + password.start,
            authority_start + password.end,
        );
        masked.push_str(&text[copied..start]);
        masked.push_str(URI_PASSWORD_MASK);
        copied = end;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    masked.push_str(&text[copied..]);
    Cow::Owned(masked)
}

/// Whether `before` ends with a URI scheme: a letter, then letters, digits, `+`, `-`, `.`.
fn has_scheme(before: &str) -> bool {
    before
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        .any(|c| c.is_ascii_alphabetic())
}

/// The characters of `text` with their byte offsets, leaving out config-provider variables:
/// from `${` to the next `}` (Kafka's variables do not nest). `${` with no `}` after it is
/// ordinary text.
fn outside_variables(text: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || loop {
        let (i, c) = chars.next()?;
        if c == '$' && chars.peek().is_some_and(|&(_, next)| next == '{') {
            if let Some(close) = text[i..].find('}') {
                while chars.next_if(|&(j, _)| j <= i + close).is_some() {}
                continue;
            }
        }
        return Some((i, c));
    })
}

/// The length of the authority at the start of `rest` (what follows `://`).
fn authority_len(rest: &str) -> usize {
    outside_variables(rest)
        .find(|&(_, c)| {
            matches!(c, '/' | '?' | '#' | '"' | '\'' | '<' | '>' | '`') || c.is_whitespace()
        })
        .map_or(rest.len(), |(i, _)| i)
}

/// The byte range of the password in `authority`, when it has one worth masking.
fn password_range(authority: &str) -> Option<std::ops::Range<usize>> {
    let at = outside_variables(authority)
        .filter(|&(_, c)| c == '@')
        .last()
        .map(|(i, _)| i)?;
    let userinfo = &authority[..at];
    let start = outside_variables(userinfo)
        .find(|&(_, c)| c == ':')
        .map_or(0, |(i, _)| i + 1);
    let password = &authority[start..at];
    let one_variable = password.starts_with("${")
        && password.ends_with('}')
        && !password[2..password.len() - 1].contains('}');
    (!password.is_empty() && !one_variable).then_some(start..at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hidden(text: &str) -> String {
        hide_uri_passwords(text).into_owned()
    }

    #[test]
    fn passwords_in_uris_are_masked() {
        for (given, shown) in [
            (
                "redis://user:password@host:6379",
                "redis://user:********@host:6379",
            ),
            ("rediss://u:pw@h:6380/2", "rediss://u:********@h:6380/2"),
            ("redis://:password@host", "redis://:********@host"),
            ("redis://secret@h:1", "redis://********@h:1"),
            (
                "redis-sentinel://u:pw@s1:26379,s2:26379/0#mymaster",
                "redis-sentinel://u:********@s1:26379,s2:26379/0#mymaster",
            ),
            // The last '@' of the authority ends the user info.
            ("redis://u:p@ss@h", "redis://u:********@h"),
            ("redis://u:p:w@h", "redis://u:********@h"),
            ("http://h/path@x?q=a@b", "http://h/path@x?q=a@b"),
            ("redis://h:1", "redis://h:1"),
            ("redis://u:@h", "redis://u:@h"),
            ("user:pw@host", "user:pw@host"),
            ("://u:pw@h", "://u:pw@h"),
            ("", ""),
        ] {
            assert_eq!(hidden(given), shown, "{given}");
        }
    }

    #[test]
    fn every_uri_in_a_text_is_masked() {
        assert_eq!(
            hidden("cannot connect to redis://u:pw@h:1: refused; also 'rediss://x:y@z' and redis://h"),
            "cannot connect to redis://u:********@h:1: refused; also 'rediss://x:********@z' and redis://h"
        );
        assert_eq!(
            hidden("{\"redis.uri\":\"redis://u:pw@h\"}"),
            "{\"redis.uri\":\"redis://u:********@h\"}"
        );
        assert_eq!(hidden("é redis://ü:pä@h é"), "é redis://ü:********@h é");
        assert!(matches!(hide_uri_passwords("no uri"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_variable_for_the_password_is_shown_and_read_as_one_piece() {
        assert_eq!(
            hidden("redis://u:${file:/etc/s.properties:redis.password}@h:1"),
            "redis://u:${file:/etc/s.properties:redis.password}@h:1"
        );
        // A variable in the user name with a literal password: the password is masked.
        assert_eq!(
            hidden("redis://${env:USER}:pw@${env:HOST}/0"),
            "redis://${env:USER}:********@${env:HOST}/0"
        );
        assert_eq!(hidden("redis://u:pre${env:PW}@h"), "redis://u:********@h");
        // An unclosed variable is ordinary text.
        assert_eq!(hidden("redis://u:${pw@h"), "redis://u:********@h");
    }

    #[test]
    fn masking_twice_changes_nothing() {
        let once = hidden("redis://u:pw@h");
        assert_eq!(hidden(&once), once);
    }
}
