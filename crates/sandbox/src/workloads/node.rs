//! The sandbox's one Node, `sandbox`, registered at start as a kubelet
//! would register itself: Ready, with the well-known labels DaemonSets
//! select on (`kubernetes.io/hostname`, `kubernetes.io/os`,
//! `kubernetes.io/arch`), a nominal capacity, the loopback address and a
//! kubelet version that matches the server's, and its heartbeat Lease in
//! `kube-node-lease` (which `kubectl describe node` shows). Nothing
//! heartbeats: both stay as registered unless a client changes them.

use serde_json::{Value, json};

use super::{MANAGER, nodes, scope, write_options};
use crate::api::Api;
use crate::catalog::GroupResource;

/// The Node's name, and its `kubernetes.io/hostname` label.
pub const NODE_NAME: &str = "sandbox";

/// Registers the Node unless it is there already (a restart on the same
/// data directory keeps it).
pub fn register_node(api: &Api) {
    let Some(cluster) = scope(api, &nodes(), "").map(|mut s| {
        s.namespace = None;
        s
    }) else {
        return;
    };
    if api.get(&cluster, NODE_NAME).is_ok() {
        return;
    }
    let now = (api.now)();
    let created = api.create(&cluster, node(), &write_options());
    let written = created.and_then(|node| {
        let rv = crate::store::resource_version_of(&node);
        api.write_status(&nodes(), "", NODE_NAME, rv, node_status(&now), MANAGER)
    });
    if let Err(err) = written {
        tracing::warn!(node = NODE_NAME, error = %err, "cannot register the sandbox's node");
        return;
    }
    let Ok(node) = api.get(&cluster, NODE_NAME) else {
        return;
    };
    if let Some(scope) = scope(api, &leases(), LEASE_NAMESPACE)
        && let Err(err) = api.create(&scope, lease(&node, &now), &write_options())
    {
        tracing::warn!(node = NODE_NAME, error = %err, "cannot create the sandbox node's lease");
    }
}

/// The namespace of the Nodes' heartbeat Leases.
const LEASE_NAMESPACE: &str = "kube-node-lease";

fn leases() -> GroupResource {
    GroupResource::new("coordination.k8s.io", "leases")
}

/// The Node's heartbeat Lease, owned by the Node as the kubelet makes it.
fn lease(node: &Value, now: &str) -> Value {
    // `renewTime` is a MicroTime, which clients parse with microseconds.
    let renewed = match now.strip_suffix('Z') {
        Some(seconds) if !seconds.contains('.') => format!("{seconds}.000000Z"),
        _ => now.to_string(),
    };
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": NODE_NAME,
            "namespace": LEASE_NAMESPACE,
            "ownerReferences": [{
                "apiVersion": "v1",
                "kind": "Node",
                "name": NODE_NAME,
                "uid": node.pointer("/metadata/uid").cloned().unwrap_or(json!("")),
            }],
        },
        "spec": {
            "holderIdentity": NODE_NAME,
            "leaseDurationSeconds": 40,
            "renewTime": renewed,
        },
    })
}

/// Go's name for this machine's architecture, as node labels carry it.
fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn node() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": NODE_NAME,
            "labels": {
                "beta.kubernetes.io/arch": arch(),
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": arch(),
                "kubernetes.io/hostname": NODE_NAME,
                "kubernetes.io/os": "linux",
                "node-role.kubernetes.io/control-plane": "",
            },
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"]},
    })
}

fn node_status(now: &str) -> Value {
    let condition = |kind: &str, status: &str, reason: &str, message: &str| {
        json!({
            "type": kind,
            "status": status,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        })
    };
    let resources = json!({
        "cpu": "4",
        "ephemeral-storage": "100Gi",
        "hugepages-2Mi": "0",
        "memory": "8Gi",
        "pods": "110",
    });
    let version = crate::discovery::version()["gitVersion"].clone();
    json!({
        "addresses": [
            {"type": "InternalIP", "address": "127.0.0.1"},
            {"type": "Hostname", "address": NODE_NAME},
        ],
        "allocatable": resources,
        "capacity": resources,
        "conditions": [
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "architecture": arch(),
            "bootID": "",
            "containerRuntimeVersion": "driftless-sandbox://0.0.0",
            "kernelVersion": "",
            "kubeProxyVersion": version,
            "kubeletVersion": version,
            "machineID": "",
            "operatingSystem": "linux",
            "osImage": "driftless sandbox (runs no containers)",
            "systemUUID": "",
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kubelet_version_is_the_servers() {
        let status = node_status("2026-01-01T00:00:00Z");
        assert_eq!(
            status["nodeInfo"]["kubeletVersion"],
            crate::discovery::version()["gitVersion"]
        );
        assert_eq!(status["conditions"][3]["type"], "Ready");
        assert_eq!(status["conditions"][3]["status"], "True");
        assert_eq!(
            node()["metadata"]["labels"]["kubernetes.io/hostname"],
            NODE_NAME
        );
    }
}
