//! `driftless create alert-provider|alert|receiver`: Flux's notification
//! objects from flux's flags, printed (`--export`) or applied. Providers and
//! Alerts have no status to wait for; a Receiver is waited on until it
//! reports its webhook path.

use driftless_api::meta::LocalObjectReference;
use driftless_api::{
    Alert, AlertSpec, EventSeverity, EventSource, Provider, ProviderSpec, ProviderType, Receiver,
    ReceiverResource, ReceiverSpec, ReceiverType,
};

/// `create alert-provider`.
#[derive(clap::Args)]
pub struct ProviderArgs {
    /// The name of the Provider.
    pub name: String,
    /// The type of the provider: slack, msteams, discord, generic, generic-hmac, github, gitlab, …
    #[arg(long = "type", value_parser = parse_enum::<ProviderType>)]
    pub type_: ProviderType,
    /// The channel, room or chat to post to.
    #[arg(long)]
    pub channel: Option<String>,
    /// The bot's display name.
    #[arg(long)]
    pub username: Option<String>,
    /// The endpoint (prefer --secret-ref: webhook URLs are secrets).
    #[arg(long)]
    pub address: Option<String>,
    /// The Secret with `address`, `token`, `username`, `password` or `headers`.
    #[arg(long, value_name = "NAME")]
    pub secret_ref: Option<String>,
}

/// `create alert`.
#[derive(clap::Args)]
pub struct AlertArgs {
    /// The name of the Alert.
    pub name: String,
    /// The Provider the events go to.
    #[arg(long, value_name = "NAME")]
    pub provider_ref: String,
    /// The objects whose events are sent: <kind>/<name>[.<namespace>], name `*` for all (repeated or comma separated).
    #[arg(long = "event-source", required = true, value_delimiter = ',', value_parser = parse_object_ref)]
    pub event_sources: Vec<EventSource>,
    /// `info` sends every event, `error` only errors.
    #[arg(long, default_value = "info", value_parser = parse_enum::<EventSeverity>)]
    pub event_severity: EventSeverity,
}

/// `create receiver`.
#[derive(clap::Args)]
pub struct ReceiverArgs {
    /// The name of the Receiver.
    pub name: String,
    /// Who calls the webhook: generic, generic-hmac, github, gitlab, bitbucket, harbor, dockerhub, quay, gcr, nexus, acr, cdevents.
    #[arg(long = "type", value_parser = parse_enum::<ReceiverType>)]
    pub type_: ReceiverType,
    /// The event types that trigger (e.g. push); all when none (repeated or comma separated).
    #[arg(long = "event", value_delimiter = ',')]
    pub events: Vec<String>,
    /// The objects reconciled on a call: <kind>/<name>[.<namespace>] (repeated or comma separated).
    #[arg(long = "resource", required = true, value_delimiter = ',', value_parser = parse_object_ref)]
    pub resources: Vec<EventSource>,
    /// The Secret whose `token` names the webhook path and verifies calls.
    #[arg(long, value_name = "NAME")]
    pub secret_ref: String,
}

/// A Flux enum from its spelling in the spec (`generic-hmac`).
fn parse_enum<T: serde::de::DeserializeOwned>(value: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(value.to_owned()))
        .map_err(|_| format!("{value:?} is not one of the values Flux's API allows"))
}

/// `Kind/name[.namespace]`, as flux's `--event-source` and `--resource` take it.
fn parse_object_ref(value: &str) -> Result<EventSource, String> {
    let (kind, rest) = value
        .split_once('/')
        .filter(|(kind, rest)| !kind.is_empty() && !rest.is_empty())
        .ok_or_else(|| format!("{value:?} is not <kind>/<name>[.<namespace>]"))?;
    let (name, namespace) = match rest.split_once('.') {
        Some((name, namespace)) if !name.is_empty() && !namespace.is_empty() => {
            (name, Some(namespace.to_owned()))
        }
        Some(_) => return Err(format!("{value:?} is not <kind>/<name>[.<namespace>]")),
        None => (rest, None),
    };
    Ok(EventSource {
        kind: kind.to_owned(),
        name: name.to_owned(),
        namespace,
        ..EventSource::default()
    })
}

fn in_namespace<K: kube::Resource>(mut object: K, namespace: &str) -> K {
    object.meta_mut().namespace = Some(namespace.to_owned());
    object
}

/// The Provider `args` describe.
pub fn provider(namespace: &str, args: &ProviderArgs) -> Provider {
    let spec = ProviderSpec {
        type_: args.type_,
        interval: None,
        channel: args.channel.clone(),
        username: args.username.clone(),
        address: args.address.clone(),
        timeout: None,
        proxy: None,
        proxy_secret_ref: None,
        secret_ref: args
            .secret_ref
            .clone()
            .map(|name| LocalObjectReference { name }),
        service_account_name: None,
        cert_secret_ref: None,
        suspend: false,
        commit_status_expr: None,
    };
    in_namespace(Provider::new(&args.name, spec), namespace)
}

/// The Alert `args` describe.
pub fn alert(namespace: &str, args: &AlertArgs) -> Alert {
    let spec = AlertSpec {
        provider_ref: LocalObjectReference {
            name: args.provider_ref.clone(),
        },
        event_severity: Some(args.event_severity),
        event_sources: args.event_sources.clone(),
        inclusion_list: None,
        event_metadata: None,
        exclusion_list: None,
        summary: None,
        suspend: false,
    };
    in_namespace(Alert::new(&args.name, spec), namespace)
}

/// The Receiver `args` describe.
pub fn receiver(namespace: &str, args: &ReceiverArgs) -> Receiver {
    let spec = ReceiverSpec {
        type_: args.type_,
        interval: None,
        events: (!args.events.is_empty()).then(|| args.events.clone()),
        resources: args
            .resources
            .iter()
            .map(|target| ReceiverResource {
                target: target.clone(),
                filter: None,
            })
            .collect(),
        resource_filter: None,
        secret_ref: Some(LocalObjectReference {
            name: args.secret_ref.clone(),
        }),
        suspend: false,
    };
    in_namespace(Receiver::new(&args.name, spec), namespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_refs_take_kind_name_and_an_optional_namespace() {
        let all = parse_object_ref("Kustomization/*").expect("valid");
        assert_eq!(
            (all.kind.as_str(), all.name.as_str(), all.namespace),
            ("Kustomization", "*", None)
        );
        let one = parse_object_ref("GitRepository/fleet.flux-system").expect("valid");
        assert_eq!(one.namespace.as_deref(), Some("flux-system"));
        assert!(parse_object_ref("fleet").is_err());
        assert!(parse_object_ref("GitRepository/.ns").is_err());
    }

    #[test]
    fn types_are_spelled_as_in_flux() {
        assert_eq!(
            parse_enum::<ProviderType>("generic-hmac"),
            Ok(ProviderType::GenericHmac)
        );
        assert!(parse_enum::<ProviderType>("carrier-pigeon").is_err());
        assert_eq!(
            parse_enum::<ReceiverType>("github"),
            Ok(ReceiverType::Github)
        );
    }
}
