//! [`Secret`]: an API key that never prints.

use std::fmt;
use std::sync::Arc;

/// An API key. `Debug` and `Display` print `***`, never the key; the only
/// way to read it is [`Secret::expose`], which this crate calls in exactly
/// one place per provider: when it sets the request header (marked
/// sensitive, so the HTTP stack does not print it either).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wrap a key.
    pub fn new(key: impl Into<String>) -> Self {
        Secret(Arc::from(key.into()))
    }

    /// The key itself. Only for building the request header.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the key replaced by `***`: used on
    /// any text a server sends back before it is quoted in an error (some
    /// servers echo part of a wrong key).
    pub fn scrub(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_owned()
        } else {
            text.replace(&*self.0, "***")
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_key() {
        let s = Secret::new("sk-ant-very-secret");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{:#?}", Some(&s)), "Some(\n    ***,\n)");
        assert_eq!(s.expose(), "sk-ant-very-secret");
        assert_eq!(
            s.scrub("Incorrect API key provided: sk-ant-very-secret."),
            "Incorrect API key provided: ***."
        );
        assert_eq!(Secret::new("").scrub("abc"), "abc");
    }
}
