//! `generic` and `generic-hmac`: POST the event JSON to the address, with
//! the `gotk-component` header, the secret's headers, and for
//! `generic-hmac` `X-Signature: sha256=<hex HMAC-SHA256(body, token)>`.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::{OutgoingRequest, ProviderConfig, ProviderType};
use crate::error::NotifyError;
use crate::event::Event;

/// The header naming the emitting controller.
const COMPONENT_HEADER: &str = "gotk-component";

pub(super) fn build(
    config: &ProviderConfig,
    event: &Event,
) -> Result<Vec<OutgoingRequest>, NotifyError> {
    let url = config.address_url()?;
    let body = event.to_json();
    let mut request = OutgoingRequest::post_json("post event", url, &serde_json::Value::Null);
    request.body = body;
    request = request.header(COMPONENT_HEADER, &event.reporting_controller);
    for (name, value) in &config.headers {
        request = request.header(name, value);
    }
    if config.provider_type == ProviderType::GenericHmac {
        let key = config
            .token()
            .ok_or_else(|| config.config_error("generic-hmac needs a token"))?;
        let signature = hmac_sha256_hex(key.as_bytes(), &request.body);
        request = request.header("X-Signature", format!("sha256={signature}"));
    }
    Ok(vec![request])
}

fn hmac_sha256_hex(key: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length; the error branch is unreachable.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}
