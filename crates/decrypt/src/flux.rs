//! What Flux's kustomize-controller decrypts for a Kustomization with
//! `spec.decryption.provider: sops`, with one difference: every MAC is
//! verified (Flux skips the check, because Kustomize's transformers change
//! objects after encryption; we verify each encrypted file as it is in the
//! source, before the build).
//!
//! - [`Decryptor::decrypt_sources`] — before the build: the `files` and
//!   `envs` of every `secretGenerator` and every `patches[].path` file of
//!   the kustomizations the build reaches, decrypted when they carry SOPS
//!   markers (in their own format; `envs` as dotenv), handed to the
//!   renderer as in-memory [`DecryptedSources`]; every encrypted resource
//!   file's MAC verified.
//! - [`Decryptor`] as the renderer's [`ObjectHook`] — after the build,
//!   before substitution: an object with `sops` metadata is decrypted
//!   whole; in a Secret, each `data` value that is itself a SOPS document
//!   is decrypted into the format its key's extension names. The
//!   annotation `kustomize.toolkit.fluxcd.io/decrypt: Disabled` opts an
//!   object out.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use driftless_render::yaml::{self, Value};
use driftless_render::{FileOverrides, ObjectHook};
use sha2::{Digest, Sha256};

use crate::datakey::{self, DataKey};
use crate::error::DecryptError;
use crate::keyring::Keyring;
use crate::limits::MAX_ENCRYPTED_FILE_SIZE;
use crate::store::{self, Body, Format};
use crate::tree::Walk;

/// Cleartext of generator sources and patch files, for the renderer.
pub type DecryptedSources = FileOverrides;

/// The annotation that opts an object out of decryption.
pub const DISABLE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/decrypt";

/// A decryption failure with what it was decrypting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FluxDecryptError {
    /// A file in the source.
    #[error("failed to decrypt {path}")]
    File {
        /// The file, relative to the source root.
        path: String,
        /// Why.
        #[source]
        source: DecryptError,
    },
    /// A rendered object.
    #[error("failed to decrypt {kind} {name}")]
    Object {
        /// Its kind.
        kind: String,
        /// `namespace/name` or `name`.
        name: String,
        /// Why.
        #[source]
        source: DecryptError,
    },
    /// A Secret's `data` value.
    #[error("failed to decrypt Secret {name} data key {key:?}")]
    SecretValue {
        /// `namespace/name` or `name`.
        name: String,
        /// The data key.
        key: String,
        /// Why.
        #[source]
        source: DecryptError,
    },
    /// A file could not be read, or lies outside the source.
    #[error("cannot read {path} for decryption: {message}")]
    Read {
        /// The file, relative to the source root.
        path: String,
        /// Why.
        message: String,
    },
}

/// Decrypts for one build: keys, the data keys recovered so far, and the
/// MACs verified against source files.
pub struct Decryptor {
    keys: Keyring,
    data_keys: HashMap<[u8; 32], DataKey>,
    verified_macs: HashSet<String>,
    decrypted: usize,
}

impl std::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Decryptor {{ {:?}, <redacted> }}", self.keys)
    }
}

impl Decryptor {
    /// A decryptor with `keys`.
    pub fn new(keys: Keyring) -> Decryptor {
        Decryptor {
            keys,
            data_keys: HashMap::new(),
            verified_macs: HashSet::new(),
            decrypted: 0,
        }
    }

    /// How many documents and values were decrypted so far.
    pub fn decrypted(&self) -> usize {
        self.decrypted
    }

    /// Decrypts a whole file read as `input`, written as `output`.
    pub fn decrypt_file(
        &mut self,
        data: &[u8],
        input: Format,
        output: Format,
    ) -> Result<Vec<u8>, DecryptError> {
        let mut loaded = store::load(data, input)?;
        self.open(&mut loaded.body, &loaded.metadata)?;
        self.verified_macs.insert(loaded.metadata.mac.clone());
        self.decrypted += 1;
        store::emit(loaded.body, output)
    }

    /// Decrypts `body` and verifies its MAC.
    fn open(
        &mut self,
        body: &mut Body,
        metadata: &crate::metadata::Metadata,
    ) -> Result<(), DecryptError> {
        let key = self.data_key(metadata)?;
        let mut walk = Walk::new(metadata, &key);
        store::decrypt(body, &mut walk)?;
        walk.verify()
    }

    fn data_key(&mut self, metadata: &crate::metadata::Metadata) -> Result<DataKey, DecryptError> {
        let mut id = Sha256::new();
        for group in &metadata.groups {
            for key in &group.age {
                id.update(key.encrypted.as_bytes());
            }
            for key in &group.pgp {
                id.update(key.encrypted.as_bytes());
            }
            id.update(b"\0group\0");
        }
        let id: [u8; 32] = id.finalize().into();
        if let Some(key) = self.data_keys.get(&id) {
            return Ok(key.clone());
        }
        let key = datakey::recover(metadata, &self.keys)?;
        self.data_keys.insert(id, key.clone());
        Ok(key)
    }

    /// Verifies every SOPS document group of a resource file (documents
    /// sharing one `sops` block are one SOPS file, their MAC covering
    /// them all), remembering the MACs that held.
    pub fn verify_resource_file(&mut self, text: &str) -> Result<(), DecryptError> {
        let documents = yaml::parse_documents(text).map_err(|message| DecryptError::Parse {
            format: "YAML",
            message,
        })?;
        let mut groups: Vec<(String, Vec<Value>)> = Vec::new();
        for document in documents {
            let Some(mac) = document.str_at(&["sops", "mac"]).map(str::to_owned) else {
                continue;
            };
            if disabled(&document) {
                continue;
            }
            if self.verified_macs.contains(&mac) {
                continue;
            }
            match groups.iter_mut().find(|(m, _)| *m == mac) {
                Some((_, docs)) => docs.push(document),
                None => groups.push((mac, vec![document])),
            }
        }
        for (_, mut documents) in groups {
            let metadata = store::take_metadata(&mut documents)?;
            let mut body = Body::Tree(documents);
            self.open(&mut body, &metadata)?;
            self.verified_macs.insert(metadata.mac);
        }
        Ok(())
    }

    /// Flux's `DecryptSources`, plus MAC verification of encrypted
    /// resource files: walks the kustomizations the build of `path`
    /// (and `components`) reaches inside `root`.
    pub fn decrypt_sources(
        &mut self,
        root: &Path,
        path: &Path,
        components: &[String],
    ) -> Result<DecryptedSources, FluxDecryptError> {
        let mut walker = SourceWalker {
            root,
            decryptor: self,
            sources: DecryptedSources::default(),
            visited: HashSet::new(),
        };
        let start = lexical(&root.join(path));
        if walker.inside(&start).is_err() {
            // The build refuses a path outside the source with its own error.
            return Ok(walker.sources);
        }
        walker.directory(&start, true)?;
        for component in components {
            walker.directory(&lexical(&start.join(component)), false)?;
        }
        Ok(walker.sources)
    }

    /// Decrypts one rendered object as Flux does; see the module doc.
    pub fn decrypt_object(&mut self, object: &mut Value) -> Result<(), FluxDecryptError> {
        if disabled(object) {
            return Ok(());
        }
        let has_mac = object
            .str_at(&["sops", "mac"])
            .is_some_and(|mac| !mac.is_empty());
        if has_mac {
            return self
                .decrypt_whole(object)
                .map_err(|source| FluxDecryptError::Object {
                    kind: object.str_at(&["kind"]).unwrap_or("object").to_owned(),
                    name: display_name(object),
                    source,
                });
        }
        if object.str_at(&["kind"]) == Some("Secret") {
            self.decrypt_secret_values(object)?;
        }
        Ok(())
    }

    fn decrypt_whole(&mut self, object: &mut Value) -> Result<(), DecryptError> {
        let sops = object
            .as_map_mut()
            .and_then(|m| m.shift_remove("sops"))
            .ok_or(DecryptError::NoMetadata)?;
        let Value::Map(sops) = sops else {
            return Err(DecryptError::Metadata(
                "the sops entry is not a mapping".into(),
            ));
        };
        let metadata = crate::metadata::Metadata::from_map(&sops)?;
        let key = self.data_key(&metadata)?;
        let mut walk = Walk::new(&metadata, &key);
        walk.value(object, &mut Vec::new())?;
        // Verified against its source file before the build (the build
        // may since have added labels or a namespace); an object no source
        // file accounted for must match its MAC as it is.
        if !self.verified_macs.contains(&metadata.mac) {
            walk.verify()?;
        }
        self.decrypted += 1;
        Ok(())
    }

    fn decrypt_secret_values(&mut self, object: &mut Value) -> Result<(), FluxDecryptError> {
        let name = display_name(object);
        let Some(Value::Map(data)) = object.get_mut("data") else {
            return Ok(());
        };
        for (key, value) in data.iter_mut() {
            let Value::Str(encoded) = value else { continue };
            let Ok(bytes) = STANDARD.decode(encoded.as_bytes()) else {
                continue;
            };
            let Some(input) = Format::detect(&bytes) else {
                continue;
            };
            let cleartext = self
                .decrypt_file(&bytes, input, Format::for_path(key))
                .map_err(|source| FluxDecryptError::SecretValue {
                    name: name.clone(),
                    key: key.clone(),
                    source,
                })?;
            *encoded = STANDARD.encode(cleartext);
        }
        Ok(())
    }
}

impl ObjectHook for Decryptor {
    fn object(
        &mut self,
        object: &mut Value,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.decrypt_object(object).map_err(Into::into)
    }
}

fn disabled(object: &Value) -> bool {
    object
        .str_at(&["metadata", "annotations", DISABLE_ANNOTATION])
        .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
}

fn display_name(object: &Value) -> String {
    let name = object.str_at(&["metadata", "name"]).unwrap_or("(unnamed)");
    match object.str_at(&["metadata", "namespace"]) {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_owned(),
    }
}

/// `a/./b/../c` as `a/c`, without touching the file system.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

struct SourceWalker<'a> {
    root: &'a Path,
    decryptor: &'a mut Decryptor,
    sources: DecryptedSources,
    visited: HashSet<PathBuf>,
}

impl SourceWalker<'_> {
    fn relative(&self, path: &Path) -> String {
        path.strip_prefix(self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    fn inside(&self, path: &Path) -> Result<(), FluxDecryptError> {
        let real = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let root = self
            .root
            .canonicalize()
            .unwrap_or_else(|_| self.root.to_path_buf());
        if real.starts_with(&root) {
            Ok(())
        } else {
            Err(FluxDecryptError::Read {
                path: self.relative(path),
                message: "it lies outside the source".into(),
            })
        }
    }

    /// Reads a regular file of the source, bounded.
    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, FluxDecryptError> {
        self.inside(path)?;
        let failed = |message: String| FluxDecryptError::Read {
            path: self.relative(path),
            message,
        };
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return Ok(None);
        };
        if !meta.is_file() {
            return Ok(None);
        }
        if meta.len() > MAX_ENCRYPTED_FILE_SIZE as u64 {
            return Ok(None);
        }
        std::fs::read(path)
            .map(Some)
            .map_err(|e| failed(e.to_string()))
    }

    fn directory(&mut self, dir: &Path, top: bool) -> Result<(), FluxDecryptError> {
        if !self.visited.insert(dir.to_path_buf()) || !dir.is_dir() {
            return Ok(());
        }
        self.inside(dir)?;
        let found: Vec<PathBuf> = KUSTOMIZATION_FILES
            .iter()
            .map(|name| dir.join(name))
            .filter(|p| p.is_file())
            .collect();
        let Some(file) = found.first() else {
            // Flux's generated kustomization lists every manifest below the
            // top directory; nested directories without one are skipped.
            if top {
                self.manifests_below(dir)?;
            }
            return Ok(());
        };
        let Some(bytes) = self.read(file)? else {
            return Ok(());
        };
        let text = String::from_utf8_lossy(&bytes);
        let Ok(mut documents) = yaml::parse_documents(&text) else {
            // The build reports the malformed kustomization with its own words.
            return Ok(());
        };
        let Some(Value::Map(kustomization)) = documents.pop() else {
            return Ok(());
        };
        self.generators(dir, &kustomization)?;
        for field in ["resources", "components", "bases"] {
            for entry in strings(kustomization.get(field)) {
                if entry.contains("://") {
                    continue;
                }
                let target = lexical(&dir.join(&entry));
                if target.is_dir() {
                    self.directory(&target, false)?;
                } else {
                    self.resource_file(&target)?;
                }
            }
        }
        Ok(())
    }

    fn generators(
        &mut self,
        dir: &Path,
        kustomization: &yaml::Map,
    ) -> Result<(), FluxDecryptError> {
        if let Some(Value::Seq(generators)) = kustomization.get("secretGenerator") {
            for generator in generators {
                for source in strings(generator.get("files")) {
                    let (key, file) = source.split_once('=').unwrap_or((&source, &source));
                    let format = Format::for_path(key);
                    self.source_file(&lexical(&dir.join(file)), format)?;
                }
                for env in strings(generator.get("envs"))
                    .into_iter()
                    .chain(strings(generator.get("env")))
                {
                    let format = match Format::for_path(&env) {
                        Format::Binary => Format::Dotenv,
                        other => other,
                    };
                    self.source_file(&lexical(&dir.join(&env)), format)?;
                }
            }
        }
        if let Some(Value::Seq(patches)) = kustomization.get("patches") {
            for patch in patches {
                if let Some(path) = patch.str_at(&["path"]).filter(|p| !p.contains("://")) {
                    let file = lexical(&dir.join(path));
                    self.source_file(&file, Format::for_path(path))?;
                }
            }
        }
        Ok(())
    }

    /// Decrypts a generator source or patch file carrying SOPS markers.
    fn source_file(&mut self, file: &Path, format: Format) -> Result<(), FluxDecryptError> {
        if self.sources.contains(file) {
            return Ok(());
        }
        let Some(bytes) = self.read(file)? else {
            return Ok(());
        };
        if !store::contains(&bytes, format.marker()) {
            return Ok(());
        }
        let cleartext = self
            .decryptor
            .decrypt_file(&bytes, format, format)
            .map_err(|source| FluxDecryptError::File {
                path: self.relative(file),
                source,
            })?;
        self.sources.insert(file, cleartext);
        Ok(())
    }

    /// Verifies the MACs of an encrypted resource file.
    fn resource_file(&mut self, file: &Path) -> Result<(), FluxDecryptError> {
        if !self.visited.insert(file.to_path_buf()) {
            return Ok(());
        }
        let Some(bytes) = self.read(file)? else {
            return Ok(());
        };
        let markers = [Format::Yaml.marker(), Format::Json.marker()];
        if !markers.iter().any(|m| store::contains(&bytes, m)) {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&bytes);
        self.decryptor
            .verify_resource_file(&text)
            .map_err(|source| FluxDecryptError::File {
                path: self.relative(file),
                source,
            })
    }

    fn manifests_below(&mut self, dir: &Path) -> Result<(), FluxDecryptError> {
        let mut pending = vec![dir.to_path_buf()];
        while let Some(current) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&current) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() {
                    pending.push(path);
                } else if kind.is_file()
                    && path
                        .extension()
                        .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
                {
                    self.resource_file(&path)?;
                }
            }
        }
        Ok(())
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Seq(items)) => items.iter().filter_map(Value::scalar_string).collect(),
        Some(Value::Str(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}
