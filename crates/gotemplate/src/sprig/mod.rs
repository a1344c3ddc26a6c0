//! The Sprig v3 text function map, as Helm exposes it (without `env` and
//! `expandenv`), split by area.

pub(crate) mod encoding;

use crate::funcs::FuncMap;

/// Sprig's `TxtFuncMap()` minus `env`/`expandenv`.
#[must_use]
pub fn functions() -> FuncMap {
    let mut map = FuncMap::new();
    encoding::register(&mut map);
    map
}
