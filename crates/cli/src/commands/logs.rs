//! `driftless logs`: the controller's log lines, from its pods (as
//! `flux logs` does), optionally only those about one object.
//!
//! The controller logs one line per event with the object's name and
//! namespace as fields, so filtering by object is a match on those fields.

use anyhow::{Context as _, bail};
use futures::{AsyncBufReadExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams};

use crate::cluster::{GlobalArgs, api_error, connect};
use crate::commands::install::{CONTROLLER, NAMESPACE};
use crate::output::write_stdout;

#[derive(clap::Args)]
pub struct Args {
    /// Only lines about this object: <Kind>/<name> (its namespace is -n).
    #[arg(long = "for", value_name = "KIND/NAME")]
    for_: Option<String>,
    /// The namespace the controller runs in.
    #[arg(long, default_value = NAMESPACE, value_name = "NS")]
    controller_namespace: String,
    /// Only lines at this level or worse: ERROR, WARN, INFO, DEBUG.
    #[arg(long, value_name = "LEVEL")]
    level: Option<String>,
    /// Keep printing new lines.
    #[arg(short, long)]
    follow: bool,
    /// How many recent lines per pod to start from.
    #[arg(long, default_value_t = 500)]
    tail: i64,
}

pub async fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let filter = Filter::new(
        args.for_.as_deref(),
        &global.namespace,
        args.level.as_deref(),
    )?;
    let cluster = connect(global).await?;
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &args.controller_namespace);
    let selector = format!("app.kubernetes.io/name={CONTROLLER}");
    let found = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| api_error(e, &cluster.server))
        .context("cannot list the controller's pods")?;
    if found.items.is_empty() {
        bail!(
            "no controller pods ({selector}) in namespace {}; is the controller installed (`driftless install`)? A `driftless controller` run outside the cluster logs to its own stderr",
            args.controller_namespace
        );
    }
    for pod in found.items {
        let name = pod.metadata.name.unwrap_or_default();
        let params = LogParams {
            follow: args.follow,
            tail_lines: Some(args.tail),
            ..LogParams::default()
        };
        let mut lines = pods
            .log_stream(&name, &params)
            .await
            .map_err(|e| api_error(e, &cluster.server))
            .with_context(|| {
                format!(
                    "cannot read the logs of pod {}/{name}",
                    args.controller_namespace
                )
            })?
            .lines();
        while let Some(line) = lines.try_next().await.context("reading the log stream")? {
            if filter.accepts(&line) {
                write_stdout(&format!("{line}\n"))?;
            }
        }
    }
    Ok(())
}

/// Which lines to print.
struct Filter {
    /// Substrings that must all appear (the object's name and namespace fields).
    needles: Vec<String>,
    levels: Vec<&'static str>,
}

const LEVELS: [&str; 4] = ["ERROR", "WARN", "INFO", "DEBUG"];

impl Filter {
    fn new(for_: Option<&str>, namespace: &str, level: Option<&str>) -> anyhow::Result<Filter> {
        let needles = match for_ {
            None => Vec::new(),
            Some(text) => match text.split_once('/') {
                Some((_, name)) if !name.is_empty() => {
                    vec![format!("{namespace}/{name}")]
                }
                _ => {
                    bail!("`{text}` is not an object; write <Kind>/<name>, e.g. Kustomization/apps")
                }
            },
        };
        let levels = match level {
            None => LEVELS.to_vec(),
            Some(level) => {
                let upper = level.to_ascii_uppercase();
                let Some(at) = LEVELS.iter().position(|l| *l == upper) else {
                    bail!("unknown --level {level:?}; use one of ERROR, WARN, INFO, DEBUG");
                };
                LEVELS[..=at].to_vec()
            }
        };
        Ok(Filter { needles, levels })
    }

    fn accepts(&self, line: &str) -> bool {
        let level_ok =
            self.levels.len() == LEVELS.len() || self.levels.iter().any(|l| line.contains(l));
        let object_ok = self.needles.iter().all(|needle| {
            let (namespace, name) = needle.split_once('/').unwrap_or(("", needle));
            line.contains(needle)
                || (line.contains(&format!("name={name}"))
                    && line.contains(&format!("namespace={namespace}")))
                || line.contains(&format!("kustomization={needle}"))
        });
        level_ok && object_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_filtered_by_object_and_level() {
        let filter =
            Filter::new(Some("Kustomization/apps"), "flux-system", Some("warn")).expect("valid");
        assert!(filter.accepts("2026-12-02T10:00:00Z  WARN Kustomization reconcile failed name=apps namespace=flux-system"));
        assert!(
            !filter.accepts(
                "2026-12-02T10:00:00Z  INFO became leader name=apps namespace=flux-system"
            )
        );
        assert!(
            !filter.accepts("2026-12-02T10:00:00Z ERROR failed name=web namespace=flux-system")
        );
        assert!(
            filter.accepts(
                "2026-12-02T10:00:00Z ERROR drift detected kustomization=flux-system/apps"
            )
        );
        assert!(Filter::new(Some("apps"), "x", None).is_err());
        assert!(Filter::new(None, "x", Some("loud")).is_err());
    }
}
