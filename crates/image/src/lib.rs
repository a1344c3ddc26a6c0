//! # driftless-image: the pure logic of Flux's image automation
//!
//! Flux turns a new image tag into a git commit with two controllers: the
//! image-reflector (an `ImageRepository` lists tags; an `ImagePolicy`
//! elects one) and the image-automation controller (an
//! `ImageUpdateAutomation` rewrites the marked lines of a checkout and
//! commits). This crate is the part of both that needs no network, no
//! cluster and no git:
//!
//! | module | owns |
//! | --- | --- |
//! | [`exclusion`] | an `ImageRepository`'s `exclusionList` (Flux's default `^.*\.sig$`) |
//! | [`policy`] | `filterTags` and the semver, alphabetical and numerical policies: [`policy::latest`] |
//! | [`setters`] | the `# {"$imagepolicy": "<ns>:<name>"}` markers: [`setters::update_with_setters`] edits files in place and returns Flux's result data |
//! | [`message`] | the commit message: Flux's template data rendered by our Go template engine |
//!
//! **Must not touch:** registries, git, the Kubernetes API; callers (the
//! reconcilers) fetch tags, check out, commit and push.
//!
//! Key choice: hand-written, because no crate has Flux's semantics (Go's
//! `regexp.ExpandString` and `strconv.ParseFloat`, kyaml's setters, Go's
//! `text/template` data); each module says where it differs from Flux.
//!
//! ```
//! use std::collections::BTreeMap;
//! use driftless_image::policy::{latest, Policy};
//! use driftless_image::setters::{update_text, ImageRef, PolicyRef};
//!
//! let policy = Policy::semver("^1.0")?;
//! let tag = latest(&["1.0.0", "1.1.0", "2.0.0", "1.1.0.sig"], None, &policy)?.expect("a tag");
//! assert_eq!(tag, "1.1.0");
//!
//! let elected = BTreeMap::from([(
//!     PolicyRef::new("flux-system", "app"),
//!     ImageRef { name: "ghcr.io/org/app".into(), tag, digest: None },
//! )]);
//! let yaml = "image: ghcr.io/org/app:1.0.0 # {\"$imagepolicy\": \"flux-system:app\"}\n";
//! let update = update_text(yaml, &elected)?;
//! assert_eq!(
//!     update.text.as_deref(),
//!     Some("image: ghcr.io/org/app:1.1.0 # {\"$imagepolicy\": \"flux-system:app\"}\n")
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod exclusion;
pub mod message;
pub mod policy;
pub mod setters;
