//! Pages of a list: `limit` and the opaque `continue` token (resource
//! version and position), as the API server pages.

use super::*;

/// Where an object sorts in a list: by namespace, then name, as the store keeps them.
/// One page of a list: up to `limit` matching objects, and how many more
/// match — counted only without selectors, where counting is cheap (with
/// selectors it is 1 when more exist, enough for the continue token).
pub(super) fn paginate<'a>(
    objects: impl Iterator<Item = &'a Arc<Value>>,
    opts: &ListOptions,
) -> (Vec<Arc<Value>>, usize) {
    let unfiltered = opts.is_unfiltered();
    let mut matching = objects.filter(|o| unfiltered || opts.matches(o));
    match opts.limit.filter(|l| *l > 0) {
        None => (matching.cloned().collect(), 0),
        Some(limit) => {
            let items = matching.by_ref().take(limit).cloned().collect();
            let remaining = if unfiltered {
                matching.count()
            } else {
                usize::from(matching.next().is_some())
            };
            (items, remaining)
        }
    }
}

pub(super) fn object_position(object: &Value) -> (String, String) {
    (
        meta_str(object, "namespace")
            .unwrap_or_default()
            .to_string(),
        name_of(object).to_string(),
    )
}

pub(super) fn encode_continue(rv: u64, (namespace, name): &(String, String)) -> String {
    let token = json!({"rv": rv, "namespace": namespace, "name": name});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.to_string())
}

pub(super) fn decode_continue(token: &str) -> Result<(u64, (String, String)), ApiError> {
    let invalid = || {
        ApiError::bad_request("continue key is not valid: the token was not issued by this server")
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let rv = value["rv"].as_u64().ok_or_else(invalid)?;
    let namespace = value["namespace"].as_str().ok_or_else(invalid)?.to_string();
    let name = value["name"].as_str().ok_or_else(invalid)?.to_string();
    Ok((rv, (namespace, name)))
}
