//! Patch and server-side-apply semantics.
