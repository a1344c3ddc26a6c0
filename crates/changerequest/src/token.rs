//! The API token, kept out of every printed form: its `Debug` says
//! `<redacted>`, it has no `Display`, and [`Token::mask`] removes it from
//! any text a host echoes back before that text reaches an error.

use crate::error::Error;

/// An API token read by the caller from a Secret's `token` key.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Takes the token, trimming the surrounding whitespace a Secret's
    /// value often carries (a trailing newline). Fails when empty or when
    /// it holds characters an HTTP header cannot carry.
    pub fn new(value: impl Into<String>) -> Result<Self, Error> {
        let value = value.into();
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(Error::InvalidToken("the token is empty"));
        }
        if trimmed.chars().any(|c| !c.is_ascii_graphic()) {
            return Err(Error::InvalidToken(
                "the token holds spaces, control or non-ASCII characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The secret itself, for the one place that builds the auth header.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the token replaced.
    pub(crate) fn mask(&self, text: &str) -> String {
        text.replace(&self.0, "<redacted>")
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_token_and_mask_removes_it() {
        let token = Token::new("ghp_s3cr3t\n").expect("valid");
        assert_eq!(format!("{token:?}"), "Token(<redacted>)");
        assert_eq!(token.expose(), "ghp_s3cr3t");
        assert_eq!(
            token.mask("bad credentials ghp_s3cr3t"),
            "bad credentials <redacted>"
        );
    }

    #[test]
    fn empty_or_unprintable_tokens_are_refused_without_echo() {
        assert!(matches!(Token::new(" \n"), Err(Error::InvalidToken(_))));
        let err = Token::new("abc def").expect_err("space");
        assert!(!err.to_string().contains("abc"));
    }
}
