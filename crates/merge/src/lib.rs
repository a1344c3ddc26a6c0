//! Patch and server-side-apply semantics, as pure functions over JSON.
//!
//! This crate owns what a write *means* for an object: the three patch
//! flavours kubectl and kube-rs send, server-side apply with field ownership,
//! and the ownership bookkeeping (`metadata.managedFields`) of ordinary
//! writes. It must not touch I/O, HTTP, storage, defaulting, validation or
//! system metadata: the server calls these functions with the live object and
//! stores what they return.
//!
//! | file | owns |
//! |------|------|
//! | `schema.rs` | [`MergeSchema`]: list merge keys, list types, atomic maps per path |
//! | `patch.rs` | [`json_patch`] (RFC 6902) and [`merge_patch`] (RFC 7386) |
//! | `strategic.rs` | [`strategic_merge_patch`] and its `$` directives |
//! | `fieldset.rs` | field paths, sets of them and the `FieldsV1` encoding |
//! | `managed.rs` | `managedFields` entries: identity, decoding, order |
//! | `apply.rs` | [`server_side_apply`] and [`track_update`] |
//! | `error.rs` | [`PatchError`], [`ApplyError`] with kube-apiserver's conflict text |
//!
//! Key choice: no typed Go-like schema. Objects stay `serde_json::Value`
//! (with `preserve_order`, so field order survives), and the little structure
//! merging needs comes from path patterns in [`MergeSchema`]: a handful of
//! rules cover every built-in kind, and a CRD's `openAPIV3Schema` yields its
//! own. Behaviour follows kube-apiserver's documented semantics (and its
//! observable output, such as `fieldsV1` keys and conflict messages); no code
//! is taken from it.
//!
//! ```
//! use driftless_merge::{server_side_apply, ApplyError, MergeSchema};
//! use serde_json::json;
//!
//! let schema = MergeSchema::builtin("apps", "Deployment");
//! let cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment",
//!                  "metadata": {"name": "web"}, "spec": {"replicas": 2}});
//! let live = server_side_apply(None, &cfg, "alice", false, &schema, "2026-01-01T00:00:00Z")?;
//! assert_eq!(live["metadata"]["managedFields"][0]["fieldsV1"],
//!            json!({"f:spec": {"f:replicas": {}}}));
//!
//! let other = json!({"apiVersion": "apps/v1", "kind": "Deployment",
//!                    "metadata": {"name": "web"}, "spec": {"replicas": 3}});
//! let err = server_side_apply(Some(&live), &other, "bob", false, &schema, "2026-01-01T00:00:01Z")
//!     .expect_err("alice owns replicas");
//! assert_eq!(err.to_string(),
//!            "Apply failed with 1 conflict: conflict with \"alice\": .spec.replicas");
//! # Ok::<(), ApplyError>(())
//! ```
mod apply;
mod error;
mod fieldset;
mod managed;
mod patch;
pub mod schema;
mod strategic;

pub use apply::{server_side_apply, track_update};
pub use error::{ApplyError, Conflict, PatchError};
pub use patch::{json_patch, merge_patch};
pub use schema::{ListMapKey, ListType, MergeSchema, SmpList};
pub use strategic::strategic_merge_patch;
