//! The file formats `sops` reads and writes: YAML, JSON, dotenv, INI and
//! binary (a JSON document whose `data` holds the file).
//!
//! Each format loads into a [`Body`] plus the `sops` metadata, and emits a
//! decrypted [`Body`] back as text, in its own format or (for Secret values
//! Flux decrypts) another.

mod dotenv;
mod ini;
mod json;
mod yaml;

use driftless_render::yaml::{Map, Value};

use crate::error::DecryptError;
use crate::limits::MAX_ENCRYPTED_FILE_SIZE;
use crate::metadata::Metadata;
use crate::tree::Walk;

pub use dotenv::Line as DotenvLine;

/// A SOPS file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// YAML, one or more documents.
    Yaml,
    /// A JSON object.
    Json,
    /// `KEY=value` lines.
    Dotenv,
    /// INI sections.
    Ini,
    /// Any bytes, stored as a JSON document's `data` string.
    Binary,
}

impl Format {
    /// The format SOPS picks for a file name (`.yaml`/`.yml`, `.json`,
    /// `.env`, `.ini`, anything else binary); Flux also reads a
    /// `.dockerconfigjson` key as JSON.
    pub fn for_path(path: &str) -> Format {
        if path.ends_with(".dockerconfigjson") || path.ends_with(".json") {
            Format::Json
        } else if path.ends_with(".yaml") || path.ends_with(".yml") {
            Format::Yaml
        } else if path.ends_with(".env") {
            Format::Dotenv
        } else if path.ends_with(".ini") {
            Format::Ini
        } else {
            Format::Binary
        }
    }

    /// The format's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "YAML",
            Format::Json => "JSON",
            Format::Dotenv => "dotenv",
            Format::Ini => "INI",
            Format::Binary => "binary",
        }
    }

    /// The bytes every encrypted file of this format contains (Flux's
    /// marker check: a file without them is left as it is).
    pub fn marker(self) -> &'static [u8] {
        match self {
            Format::Yaml => b"mac: ENC[",
            Format::Json | Format::Binary => b"\"mac\": \"ENC[",
            Format::Dotenv => b"sops_mac=ENC[",
            Format::Ini => b"[sops]",
        }
    }

    /// The format whose marker `data` carries, if any (Flux's detection).
    pub fn detect(data: &[u8]) -> Option<Format> {
        [Format::Yaml, Format::Json, Format::Dotenv, Format::Ini]
            .into_iter()
            .find(|f| contains(data, f.marker()))
    }
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A file's content, without its metadata.
pub enum Body {
    /// Documents (YAML, JSON, binary).
    Tree(Vec<Value>),
    /// dotenv lines, comments kept.
    Dotenv(Vec<DotenvLine>),
    /// INI sections: a mapping of section names to mappings.
    Ini(Map),
}

/// An encrypted file, loaded.
pub struct Loaded {
    /// The content, still encrypted.
    pub body: Body,
    /// The `sops` metadata.
    pub metadata: Metadata,
}

/// Loads `data` as an encrypted file in `format`.
pub fn load(data: &[u8], format: Format) -> Result<Loaded, DecryptError> {
    if data.len() > MAX_ENCRYPTED_FILE_SIZE {
        return Err(DecryptError::TooLarge {
            size: data.len(),
            limit: MAX_ENCRYPTED_FILE_SIZE,
        });
    }
    let text = std::str::from_utf8(data).map_err(|_| DecryptError::Parse {
        format: format.name(),
        message: "not UTF-8 text".into(),
    })?;
    match format {
        Format::Yaml => yaml::load(text),
        Format::Json | Format::Binary => json::load(text),
        Format::Dotenv => dotenv::load(text),
        Format::Ini => ini::load(text),
    }
}

/// Decrypts `body` in place and verifies the MAC over it.
pub fn decrypt(body: &mut Body, walk: &mut Walk<'_>) -> Result<(), DecryptError> {
    match body {
        Body::Tree(documents) => {
            for document in documents {
                walk.value(document, &mut Vec::new())?;
            }
        }
        Body::Dotenv(lines) => dotenv::decrypt(lines, walk)?,
        Body::Ini(sections) => {
            for (name, section) in sections.iter_mut() {
                walk.value(section, &mut vec![name.clone()])?;
            }
        }
    }
    Ok(())
}

/// Writes a decrypted `body` as `format`.
pub fn emit(body: Body, format: Format) -> Result<Vec<u8>, DecryptError> {
    match (body, format) {
        (Body::Dotenv(lines), Format::Dotenv) => Ok(dotenv::emit(&lines).into_bytes()),
        (Body::Ini(sections), Format::Ini) => Ok(ini::emit(&sections).into_bytes()),
        (body, format) => {
            let documents = match body {
                Body::Tree(documents) => documents,
                Body::Dotenv(lines) => vec![dotenv::to_map(lines)],
                Body::Ini(sections) => vec![Value::Map(sections)],
            };
            emit_documents(documents, format)
        }
    }
}

fn emit_documents(mut documents: Vec<Value>, format: Format) -> Result<Vec<u8>, DecryptError> {
    let emit_error = |message: &str| DecryptError::Emit {
        format: format.name(),
        message: message.to_owned(),
    };
    match format {
        Format::Yaml => Ok(yaml::emit(&documents).into_bytes()),
        Format::Json => match documents.len() {
            1 => Ok(json::emit(&documents[0]).into_bytes()),
            _ => Err(emit_error("JSON holds exactly one document")),
        },
        Format::Binary => {
            let data = documents
                .first_mut()
                .and_then(|d| d.as_map_mut())
                .and_then(|m| m.shift_remove("data"));
            match data {
                Some(Value::Str(s)) => Ok(s.into_bytes()),
                _ => Err(emit_error("no string `data` key holds the binary content")),
            }
        }
        Format::Dotenv => match documents.pop() {
            Some(Value::Map(map)) if documents.is_empty() => {
                Ok(dotenv::emit(&dotenv::from_map(map)?).into_bytes())
            }
            _ => Err(emit_error("dotenv holds exactly one flat mapping")),
        },
        Format::Ini => match documents.pop() {
            Some(Value::Map(map)) if documents.is_empty() => Ok(ini::emit(&map).into_bytes()),
            _ => Err(emit_error("INI holds exactly one mapping of sections")),
        },
    }
}

/// Takes the `sops` key out of every document; the metadata is the first
/// document's (SOPS writes the same block into each).
pub fn take_metadata(documents: &mut [Value]) -> Result<Metadata, DecryptError> {
    let mut first = None;
    for document in documents.iter_mut() {
        if let Some(map) = document.as_map_mut()
            && let Some(sops) = map.shift_remove("sops")
            && first.is_none()
        {
            first = Some(sops);
        }
    }
    match first {
        Some(Value::Map(sops)) => Metadata::from_map(&sops),
        Some(_) => Err(DecryptError::Metadata(
            "the sops entry is not a mapping".into(),
        )),
        None => Err(DecryptError::NoMetadata),
    }
}
