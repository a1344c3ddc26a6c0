//! YAML files: every document a mapping, the metadata under `sops`.
//!
//! Read with the render crate's parser (go-yaml v3's scalar rules, the
//! same alias and nesting bounds). Written with its emitter, so decrypted
//! YAML comes out as Kustomize would print it: keys sorted, 2-space
//! indent, comments dropped — the same data `sops --decrypt` prints, not
//! always the same layout (documented in the README).

use driftless_render::yaml::{self as render_yaml, Value};

use super::{Body, Loaded, take_metadata};
use crate::error::DecryptError;

pub fn load(text: &str) -> Result<Loaded, DecryptError> {
    let mut documents =
        render_yaml::parse_documents(text).map_err(|message| DecryptError::Parse {
            format: "YAML",
            message,
        })?;
    for document in &mut documents {
        match document {
            Value::Map(_) => {}
            Value::Null => *document = Value::Map(Default::default()),
            _ => {
                return Err(DecryptError::Parse {
                    format: "YAML",
                    message: "every document must be a mapping".into(),
                });
            }
        }
    }
    let metadata = take_metadata(&mut documents)?;
    Ok(Loaded {
        body: Body::Tree(documents),
        metadata,
    })
}

pub fn emit(documents: &[Value]) -> String {
    let mut out = String::new();
    for (i, document) in documents.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&render_yaml::emit_document(document));
    }
    out
}
