//! The `sops` metadata block: which keys wrap the data key, which values
//! are encrypted, and the MAC.
//!
//! Read from the nested form (YAML, JSON, binary) or from the flattened
//! `sops_…` keys dotenv and INI files carry (`age__list_0__map_enc`).

use driftless_render::yaml::{Map, Value};
use regex::Regex;

use crate::error::DecryptError;
use crate::limits::{MAX_KEY_GROUPS, MAX_KEYS_PER_GROUP};

/// One OpenPGP recipient of the data key.
pub struct PgpKey {
    /// The key's fingerprint, as SOPS recorded it.
    pub fingerprint: String,
    /// The armored OpenPGP message holding the data key.
    pub encrypted: String,
}

/// One age recipient of the data key.
pub struct AgeKey {
    /// The recipient (`age1…`).
    pub recipient: String,
    /// The armored age file holding the data key.
    pub encrypted: String,
}

/// A key group: any one of its keys opens the group's share of the data key.
#[derive(Default)]
pub struct KeyGroup {
    /// age recipients.
    pub age: Vec<AgeKey>,
    /// OpenPGP recipients.
    pub pgp: Vec<PgpKey>,
    /// Key services we do not support that also wrap this group's share
    /// (`kms`, `gcp_kms`, …), by metadata name.
    pub unsupported: Vec<&'static str>,
}

/// Which values of the tree are encrypted.
pub enum Selector {
    /// By SOPS's path rules (suffixes and key regexes).
    Path {
        unencrypted_suffix: Option<String>,
        encrypted_suffix: Option<String>,
        unencrypted_regex: Option<Regex>,
        encrypted_regex: Option<Regex>,
    },
    /// Comment regexes decide, and comments are not in our trees: a value is
    /// encrypted exactly when it is stored in `ENC[…]` form.
    Stored,
}

impl Selector {
    /// Whether the value at `path` was encrypted (SOPS's `shouldBeEncrypted`).
    pub fn encrypted(&self, path: &[&str], stored: &Value) -> bool {
        let Selector::Path {
            unencrypted_suffix,
            encrypted_suffix,
            unencrypted_regex,
            encrypted_regex,
        } = self
        else {
            return matches!(stored, Value::Str(s) if crate::cipher::is_encrypted(s));
        };
        let mut encrypted = true;
        if let Some(suffix) = unencrypted_suffix
            && path.iter().any(|p| p.ends_with(suffix.as_str()))
        {
            encrypted = false;
        }
        if let Some(suffix) = encrypted_suffix {
            encrypted = path.iter().any(|p| p.ends_with(suffix.as_str()));
        }
        if let Some(re) = unencrypted_regex
            && path.iter().any(|p| re.is_match(p))
        {
            encrypted = false;
        }
        if let Some(re) = encrypted_regex {
            encrypted = path.iter().any(|p| re.is_match(p));
        }
        encrypted
    }
}

/// The parsed `sops` block.
pub struct Metadata {
    /// The key groups; one unless Shamir secret sharing is used.
    pub groups: Vec<KeyGroup>,
    /// How many groups must be opened (with more than one group).
    pub shamir_threshold: usize,
    /// `lastmodified`, re-formatted as Go's RFC 3339 (the MAC's additional data).
    pub last_modified: String,
    /// The encrypted MAC.
    pub mac: String,
    /// Which values are encrypted.
    pub selector: Selector,
    /// The MAC covers only encrypted values.
    pub mac_only_encrypted: bool,
}

const UNSUPPORTED: [&str; 5] = ["kms", "gcp_kms", "azure_kv", "hc_vault", "hckms"];

impl Metadata {
    /// Reads the nested `sops` mapping.
    pub fn from_map(sops: &Map) -> Result<Metadata, DecryptError> {
        let mut groups = Vec::new();
        match sops.get("key_groups") {
            Some(Value::Seq(list)) if !list.is_empty() => {
                if list.len() > MAX_KEY_GROUPS {
                    return Err(invalid(format!(
                        "{} key groups; at most {MAX_KEY_GROUPS} are read",
                        list.len()
                    )));
                }
                for group in list {
                    let group = group
                        .as_map()
                        .ok_or_else(|| invalid("key_groups entries must be mappings".into()))?;
                    groups.push(key_group(group)?);
                }
            }
            _ => groups.push(key_group(sops)?),
        }
        let mac = string(sops, "mac")?.unwrap_or_default();
        let last_modified = string(sops, "lastmodified")?
            .ok_or_else(|| invalid("lastmodified is missing".into()))?;
        let last_modified = go_rfc3339(&last_modified)?;
        let threshold = match sops.get("shamir_threshold") {
            None | Some(Value::Null) => 0,
            Some(Value::Int(i)) => {
                usize::try_from(*i).map_err(|_| invalid("shamir_threshold is negative".into()))?
            }
            Some(Value::Str(s)) => s
                .parse()
                .map_err(|_| invalid("shamir_threshold is not a number".into()))?,
            Some(_) => return Err(invalid("shamir_threshold is not a number".into())),
        };
        let shamir_threshold = if threshold == 0 {
            groups.len()
        } else {
            threshold
        };
        let mac_only_encrypted = match sops.get("mac_only_encrypted") {
            Some(Value::Bool(b)) => *b,
            Some(Value::Str(s)) => s == "true",
            _ => false,
        };
        let comment_rules = ["unencrypted_comment_regex", "encrypted_comment_regex"]
            .iter()
            .any(|k| matches!(sops.get(*k), Some(Value::Str(s)) if !s.is_empty()));
        let selector = if comment_rules {
            Selector::Stored
        } else {
            Selector::Path {
                unencrypted_suffix: string(sops, "unencrypted_suffix")?.filter(|s| !s.is_empty()),
                encrypted_suffix: string(sops, "encrypted_suffix")?.filter(|s| !s.is_empty()),
                unencrypted_regex: regex(sops, "unencrypted_regex")?,
                encrypted_regex: regex(sops, "encrypted_regex")?,
            }
        };
        Ok(Metadata {
            groups,
            shamir_threshold,
            last_modified,
            mac,
            selector,
            mac_only_encrypted,
        })
    }

    /// Reads flattened `sops_…` entries (the prefix already stripped).
    pub fn from_flat<'a>(
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Metadata, DecryptError> {
        Metadata::from_map(&unflatten(entries)?)
    }
}

fn invalid(message: String) -> DecryptError {
    DecryptError::Metadata(message)
}

fn string(map: &Map, key: &str) -> Result<Option<String>, DecryptError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.clone())),
        Some(other) => other
            .scalar_string()
            .map(Some)
            .ok_or_else(|| invalid(format!("{key} must be a string"))),
    }
}

fn regex(map: &Map, key: &str) -> Result<Option<Regex>, DecryptError> {
    match string(map, key)?.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(pattern) => Regex::new(&pattern)
            .map(Some)
            .map_err(|e| invalid(format!("{key} is not a valid regular expression: {e}"))),
    }
}

fn key_group(map: &Map) -> Result<KeyGroup, DecryptError> {
    let mut group = KeyGroup::default();
    for entry in list(map, "age")? {
        group.age.push(AgeKey {
            recipient: string(entry, "recipient")?.unwrap_or_default(),
            encrypted: string(entry, "enc")?
                .ok_or_else(|| invalid("an age entry has no enc".into()))?,
        });
    }
    for entry in list(map, "pgp")? {
        group.pgp.push(PgpKey {
            fingerprint: string(entry, "fp")?.unwrap_or_default(),
            encrypted: string(entry, "enc")?
                .ok_or_else(|| invalid("a pgp entry has no enc".into()))?,
        });
    }
    for kind in UNSUPPORTED {
        if !list(map, kind)?.is_empty() {
            group.unsupported.push(kind);
        }
    }
    Ok(group)
}

fn list<'a>(map: &'a Map, key: &str) -> Result<Vec<&'a Map>, DecryptError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Seq(items)) => {
            if items.len() > MAX_KEYS_PER_GROUP {
                return Err(invalid(format!(
                    "{} {key} keys in one group; at most {MAX_KEYS_PER_GROUP} are read",
                    items.len()
                )));
            }
            items
                .iter()
                .map(|item| {
                    item.as_map()
                        .ok_or_else(|| invalid(format!("{key} entries must be mappings")))
                })
                .collect()
        }
        Some(_) => Err(invalid(format!("{key} must be a list"))),
    }
}

/// `lastmodified` as Go's `time.Format(time.RFC3339)` prints it after
/// parsing: fractional seconds dropped, `Z` for UTC.
fn go_rfc3339(stamp: &str) -> Result<String, DecryptError> {
    use time::format_description::well_known::Rfc3339;
    let parsed = time::OffsetDateTime::parse(stamp, &Rfc3339)
        .map_err(|_| invalid(format!("lastmodified {stamp:?} is not an RFC 3339 time")))?;
    let offset = parsed.offset();
    let zone = if offset.is_utc() {
        "Z".to_owned()
    } else {
        let (h, m, _) = offset.as_hms();
        let sign = if offset.is_negative() { '-' } else { '+' };
        format!("{sign}{:02}:{:02}", h.unsigned_abs(), m.unsigned_abs())
    };
    Ok(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{zone}",
        parsed.year(),
        u8::from(parsed.month()),
        parsed.day(),
        parsed.hour(),
        parsed.minute(),
        parsed.second()
    ))
}

/// Rebuilds the nested metadata from flattened keys: `__map_K` descends
/// into key `K`, `__list_N` into item `N`.
fn unflatten<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Map, DecryptError> {
    let mut root = Value::Map(Map::new());
    for (key, value) in entries {
        let tokens = tokenize(key);
        insert(&mut root, &tokens, Value::Str(value.to_owned()))
            .map_err(|message| invalid(format!("flattened key {key:?}: {message}")))?;
    }
    match root {
        Value::Map(map) => Ok(map),
        _ => Err(invalid("flattened metadata is not a mapping".into())),
    }
}

enum Token<'a> {
    Key(&'a str),
    Index(usize),
}

fn tokenize(path: &str) -> Vec<Token<'_>> {
    const MAP: &str = "__map_";
    const LIST: &str = "__list_";
    let mut tokens = Vec::new();
    let mut rest = path;
    let mut current_is_index = false;
    loop {
        let next = [rest.find(MAP), rest.find(LIST)]
            .into_iter()
            .flatten()
            .min();
        let (part, after) = match next {
            Some(at) => (&rest[..at], Some(&rest[at..])),
            None => (rest, None),
        };
        tokens.push(if current_is_index {
            Token::Index(part.parse().unwrap_or(usize::MAX))
        } else {
            Token::Key(part)
        });
        let Some(after) = after else { break };
        if let Some(r) = after.strip_prefix(MAP) {
            current_is_index = false;
            rest = r;
        } else if let Some(r) = after.strip_prefix(LIST) {
            current_is_index = true;
            rest = r;
        }
    }
    tokens
}

fn insert(node: &mut Value, tokens: &[Token<'_>], value: Value) -> Result<(), String> {
    let Some((first, rest)) = tokens.split_first() else {
        *node = value;
        return Ok(());
    };
    match first {
        Token::Key(key) => {
            if node.is_null() {
                *node = Value::Map(Map::new());
            }
            let map = node.as_map_mut().ok_or("a key under a list")?;
            let child = map.entry((*key).to_owned()).or_insert(Value::Null);
            insert(child, rest, value)
        }
        Token::Index(index) => {
            if node.is_null() {
                *node = Value::Seq(Vec::new());
            }
            let Value::Seq(items) = node else {
                return Err("an index under a mapping".into());
            };
            if *index > MAX_KEYS_PER_GROUP * MAX_KEY_GROUPS {
                return Err("list index out of range".into());
            }
            while items.len() <= *index {
                items.push(Value::Null);
            }
            insert(&mut items[*index], rest, value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattened_keys_nest_like_sops() {
        let meta = Metadata::from_flat([
            ("age__list_0__map_recipient", "age1abc"),
            (
                "age__list_0__map_enc",
                "-----BEGIN AGE ENCRYPTED FILE-----\nx\n",
            ),
            ("lastmodified", "2024-05-01T10:00:00Z"),
            ("mac", "ENC[AES256_GCM,data:a,iv:b,tag:c,type:str]"),
            ("unencrypted_suffix", "_unencrypted"),
            ("mac_only_encrypted", "true"),
        ])
        .expect("metadata");
        assert_eq!(meta.groups.len(), 1);
        assert_eq!(meta.groups[0].age[0].recipient, "age1abc");
        assert!(meta.mac_only_encrypted);
        assert_eq!(meta.last_modified, "2024-05-01T10:00:00Z");
    }

    #[test]
    fn lastmodified_is_reformatted_as_go_does() {
        assert_eq!(
            go_rfc3339("2024-05-01T10:00:00.123Z").ok().as_deref(),
            Some("2024-05-01T10:00:00Z")
        );
        assert_eq!(
            go_rfc3339("2024-05-01T10:00:00+02:00").ok().as_deref(),
            Some("2024-05-01T10:00:00+02:00")
        );
        assert!(go_rfc3339("yesterday").is_err());
    }

    #[test]
    fn path_rules_follow_sops_precedence() {
        let selector = Selector::Path {
            unencrypted_suffix: Some("_unencrypted".into()),
            encrypted_suffix: None,
            unencrypted_regex: None,
            encrypted_regex: Some(Regex::new("^(data|stringData)$").expect("regex")),
        };
        let v = Value::Str("x".into());
        assert!(selector.encrypted(&["data", "password"], &v));
        assert!(!selector.encrypted(&["metadata", "name"], &v));
        // encrypted_regex is applied last and wins over the suffix, as in sops.
        assert!(selector.encrypted(&["data", "a_unencrypted"], &v));
    }
}
