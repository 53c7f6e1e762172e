//! `Secret`: a value that must never be printed. Owns redaction: of the wrapper's `Debug`, and
//! of every secret value flinkops knows from any text that came from outside (a proxy that
//! echoes the request headers, a Flink error that quotes the run request's arguments).

use std::borrow::Cow;
use std::fmt;
use std::sync::RwLock;

/// Every secret value this process knows (tokens, passwords, header values, resolved `${VAR}`s).
static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// What a redacted value is replaced by.
pub const REDACTED: &str = "***";

/// Remember a secret value, so that [`redact`] removes it from any text. Values shorter than 4
/// characters are not remembered: redacting `1` or `on` would garble every message, and they are
/// no secret worth the name.
pub fn remember(value: &str) {
    let value = value.trim();
    if value.chars().count() < 4 {
        return;
    }
    let mut known = KNOWN.write().unwrap_or_else(|e| e.into_inner());
    if !known.iter().any(|k| k == value) {
        known.push(value.to_string());
        // Longest first, so that a secret containing another is removed whole.
        known.sort_by_key(|k| std::cmp::Reverse(k.len()));
    }
}

/// `text` with every remembered secret value replaced by [`REDACTED`].
pub fn redact(text: &str) -> Cow<'_, str> {
    let known = KNOWN.read().unwrap_or_else(|e| e.into_inner());
    if !known.iter().any(|k| text.contains(k.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for k in known.iter() {
        out = out.replace(k.as_str(), REDACTED);
    }
    Cow::Owned(out)
}

/// A credential (token, password, private key, header value). `Debug` prints `Secret(***)`, it
/// has no `Display`, and the only way to the value is the explicit [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The clear value, for the one place that must send it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_values_are_redacted_from_any_text() {
        remember("tok-3f9a-77c1");
        remember("tok-3f9a");
        remember("on");
        let echoed = "401 from proxy: Authorization: Bearer tok-3f9a-77c1; X-Key: tok-3f9a; mode on";
        assert_eq!(redact(echoed), "401 from proxy: Authorization: Bearer ***; X-Key: ***; mode on");
        assert!(matches!(redact("nothing secret here"), Cow::Borrowed(_)));
    }

    #[test]
    fn debug_output_hides_the_value() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), "hunter2");
    }
}
