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

use crate::funcs::{FuncMap, IntParams};

/// The integer parameters of Sprig's Go signatures, by position: a number
/// literal such as `2.0` reaches them as an integer (see [`IntParams`]).
const INT_PARAMS: &[(&str, IntParams)] = &[
    ("abbrev", IntParams::at(&[0])),
    ("abbrevboth", IntParams::at(&[0, 1])),
    ("chunk", IntParams::at(&[0])),
    ("derivePassword", IntParams::at(&[0])),
    ("genCA", IntParams::at(&[1])),
    ("genCAWithKey", IntParams::at(&[1])),
    ("genSelfSignedCert", IntParams::at(&[3])),
    ("genSelfSignedCertWithKey", IntParams::at(&[3])),
    ("genSignedCert", IntParams::at(&[3])),
    ("genSignedCertWithKey", IntParams::at(&[3])),
    ("indent", IntParams::at(&[0])),
    ("mustChunk", IntParams::at(&[0])),
    ("mustRegexSplit", IntParams::at(&[2])),
    ("nindent", IntParams::at(&[0])),
    ("randAlpha", IntParams::at(&[0])),
    ("randAlphaNum", IntParams::at(&[0])),
    ("randAscii", IntParams::at(&[0])),
    ("randBytes", IntParams::at(&[0])),
    ("randInt", IntParams::at(&[0, 1])),
    ("randNumeric", IntParams::at(&[0])),
    ("regexSplit", IntParams::at(&[2])),
    ("repeat", IntParams::at(&[0])),
    ("round", IntParams::at(&[1])),
    ("seq", IntParams::ALL),
    ("splitn", IntParams::at(&[1])),
    ("substr", IntParams::at(&[0, 1])),
    ("trunc", IntParams::at(&[0])),
    ("until", IntParams::at(&[0])),
    ("untilStep", IntParams::at(&[0, 1, 2])),
    ("wrap", IntParams::at(&[0])),
    ("wrapWith", IntParams::at(&[0])),
];

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
    for (name, params) in INT_PARAMS {
        map.set_int_params(name, *params);
    }
    map
}
