//! Patch and server-side-apply semantics.
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
