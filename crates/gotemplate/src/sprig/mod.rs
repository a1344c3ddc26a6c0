//! The Sprig v3 text function map, as Helm exposes it (without `env` and
//! `expandenv`), split by area.

mod casing;
mod cert_extensions;
mod certs;
mod dates;
mod defaults;
mod dicts;
mod duration;
pub mod encoding;
mod goregexp;
mod gotime;
mod hashes;
pub mod json;
mod keypool;
mod keys;
mod lists;
mod math;
pub mod paths;
mod random;
mod reflection;
pub mod regex;
mod secrets;
pub mod semver;
mod strings;
mod url;
mod zoneinfo;

pub use defaults::is_empty;
pub use dicts::{deep_copy, merge_into};
pub use keypool::{MAX_PREPARED, expect_rsa_keys};

use crate::funcs::FuncMap;

/// Sprig's `TxtFuncMap()` minus `env`/`expandenv`.
#[must_use]
pub fn functions() -> FuncMap {
    let mut map = FuncMap::new();
    strings::register(&mut map);
    lists::register(&mut map);
    dicts::register(&mut map);
    defaults::register(&mut map);
    math::register(&mut map);
    reflection::register(&mut map);
    regex::register(&mut map);
    paths::register(&mut map);
    encoding::register(&mut map);
    random::register(&mut map);
    hashes::register(&mut map);
    semver::register(&mut map);
    dates::register(&mut map);
    casing::register(&mut map);
    url::register(&mut map);
    certs::register(&mut map);
    secrets::register(&mut map);
    map
}
