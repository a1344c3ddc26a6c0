//! `driftless check`: is the cluster reachable, are our CRDs installed and
//! current, is the controller running. One line per check; exit 1 if any
//! fails.
//!
//! "Running" means the controller's leader-election Lease has a holder
//! that renewed it within its lease duration: that is what the controller
//! itself relies on, and it needs no access to pods.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;

use crate::cluster::{Cluster, GlobalArgs, api_error, connect, is_not_found};
use crate::commands::install::{CONTROLLER, NAMESPACE};
use crate::output::{Reported, Style, write_stdout};

#[derive(clap::Args)]
pub struct Args {
    /// The namespace the controller runs in.
    #[arg(long, default_value = NAMESPACE, value_name = "NS")]
    controller_namespace: String,
}

struct Report {
    style: Style,
    failed: bool,
}

impl Report {
    fn ok(&mut self, text: &str) {
        self.line(self.style.ok_mark(), text);
    }
    fn fail(&mut self, text: &str) {
        self.failed = true;
        self.line(self.style.fail_mark(), text);
    }
    /// Best effort: a closed stdout must not hide the exit code.
    fn line(&self, mark: String, text: &str) {
        let _ = write_stdout(&format!("{mark} {text}\n"));
    }
}

pub async fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let mut report = Report {
        style: Style::stdout(),
        failed: false,
    };
    let cluster = match connect(global).await {
        Ok(cluster) => {
            report.ok(&format!(
                "cluster reachable at {}, Kubernetes {}",
                cluster.server, cluster.server_version
            ));
            cluster
        }
        Err(err) => {
            report.fail(&format!("{err:#}"));
            return Err(Reported.into());
        }
    };
    check_crds(&cluster, &mut report).await;
    check_lease(&cluster, &args.controller_namespace, &mut report).await;
    if report.failed {
        Err(Reported.into())
    } else {
        write_stdout("all checks passed\n")
    }
}

async fn check_crds(cluster: &Cluster, report: &mut Report) {
    let api: Api<CustomResourceDefinition> = Api::all(cluster.client.clone());
    for wanted in driftless_api::crds() {
        let name = wanted.metadata.name.clone().unwrap_or_default();
        match api.get(&name).await {
            Ok(served) if versions(&served) == versions(&wanted) => {
                report.ok(&format!("CRD {name} installed and current"));
            }
            Ok(_) => report.fail(&format!(
                "CRD {name} is outdated (its versions or schema differ from this build's), run driftless install"
            )),
            Err(err) if is_not_found(&err) => {
                report.fail(&format!("CRD {name} is missing, run driftless install"));
            }
            Err(err) => report.fail(&format!(
                "cannot read CRD {name}: {:#}",
                api_error(err, &cluster.server)
            )),
        }
    }
}

/// What must match for a served CRD to be current: each version's name,
/// flags and schema.
fn versions(crd: &CustomResourceDefinition) -> Vec<serde_json::Value> {
    crd.spec
        .versions
        .iter()
        .map(|v| {
            serde_json::json!({
                "name": v.name,
                "served": v.served,
                "storage": v.storage,
                "schema": v.schema,
                "subresources": v.subresources,
            })
        })
        .collect()
}

async fn check_lease(cluster: &Cluster, namespace: &str, report: &mut Report) {
    let api: Api<Lease> = Api::namespaced(cluster.client.clone(), namespace);
    let lease = match api.get(CONTROLLER).await {
        Ok(lease) => lease,
        Err(err) if is_not_found(&err) => {
            report.fail(&format!(
                "controller not running: no Lease {namespace}/{CONTROLLER}; run driftless install, or check --controller-namespace"
            ));
            return;
        }
        Err(err) => {
            report.fail(&format!(
                "cannot read Lease {namespace}/{CONTROLLER}: {:#}",
                api_error(err, &cluster.server)
            ));
            return;
        }
    };
    let spec = lease.spec.unwrap_or_default();
    let holder = spec.holder_identity.filter(|h| !h.is_empty());
    let (Some(holder), Some(renewed)) = (holder, spec.renew_time) else {
        report.fail(&format!(
            "controller not running: Lease {namespace}/{CONTROLLER} has no holder; see `kubectl -n {namespace} logs deploy/{CONTROLLER}`"
        ));
        return;
    };
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(15));
    let age = k8s_openapi::jiff::Timestamp::now().as_second() - renewed.0.as_second();
    if age <= duration {
        report.ok(&format!(
            "controller running: {holder} holds the Lease {namespace}/{CONTROLLER}"
        ));
    } else {
        report.fail(&format!(
            "controller not running: {holder} last renewed the Lease {namespace}/{CONTROLLER} {age}s ago (lease duration {duration}s); see `kubectl -n {namespace} logs deploy/{CONTROLLER}`"
        ));
    }
}
