//! The order objects are applied in (and pruned in, reversed): the stages
//! that let later objects depend on earlier ones, and the usual kind order
//! within a stage.

/// A group of objects applied together; each stage finishes before the
/// next starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// CustomResourceDefinitions, Namespaces and ClusterRoles: what other
    /// objects need to exist before they can even be validated. The apply
    /// waits for the CRDs to be Established before the next stage.
    Cluster,
    /// Kinds whose name ends in `Class` (StorageClass, IngressClass, ...),
    /// which other objects refer to by name.
    Class,
    /// Everything else.
    Rest,
}

impl Stage {
    /// The stage of an object by its API group and kind.
    pub fn of(group: &str, kind: &str) -> Stage {
        match (group, kind) {
            ("apiextensions.k8s.io", "CustomResourceDefinition")
            | ("", "Namespace")
            | ("rbac.authorization.k8s.io", "ClusterRole") => Stage::Cluster,
            (_, kind) if kind.ends_with("Class") => Stage::Class,
            _ => Stage::Rest,
        }
    }
}

/// Kinds in the order Kubernetes tooling usually applies them: what is
/// referred to before what refers to it. Unlisted kinds (custom resources
/// among them) go between [`FIRST`] and [`LAST`].
const FIRST: &[&str] = &[
    "CustomResourceDefinition",
    "Namespace",
    "ClusterRole",
    "ResourceQuota",
    "LimitRange",
    "PriorityClass",
    "StorageClass",
    "IngressClass",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Role",
    "RoleBinding",
    "ClusterRoleBinding",
    "Service",
    "Endpoints",
    "DaemonSet",
    "Pod",
    "ReplicaSet",
    "Deployment",
    "StatefulSet",
    "Job",
    "CronJob",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Ingress",
    "NetworkPolicy",
];

/// Kinds applied last: webhooks would otherwise intercept the objects of
/// the same set before their backends exist.
const LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// The position of a kind in the apply order (lower first).
pub fn rank(kind: &str) -> usize {
    if let Some(i) = FIRST.iter().position(|k| *k == kind) {
        i
    } else if let Some(i) = LAST.iter().position(|k| *k == kind) {
        FIRST.len() + 1 + i
    } else {
        FIRST.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_by_kind() {
        assert_eq!(
            Stage::of("apiextensions.k8s.io", "CustomResourceDefinition"),
            Stage::Cluster
        );
        assert_eq!(Stage::of("", "Namespace"), Stage::Cluster);
        assert_eq!(
            Stage::of("rbac.authorization.k8s.io", "ClusterRole"),
            Stage::Cluster
        );
        assert_eq!(Stage::of("storage.k8s.io", "StorageClass"), Stage::Class);
        assert_eq!(Stage::of("networking.k8s.io", "IngressClass"), Stage::Class);
        assert_eq!(Stage::of("apps", "Deployment"), Stage::Rest);
        assert_eq!(Stage::of("example.com", "Namespace"), Stage::Rest);
    }

    #[test]
    fn dependencies_come_first() {
        let mut kinds = [
            "ValidatingWebhookConfiguration",
            "Widget",
            "Deployment",
            "Service",
            "RoleBinding",
            "ConfigMap",
            "ServiceAccount",
        ];
        kinds.sort_by_key(|k| rank(k));
        assert_eq!(
            kinds,
            [
                "ServiceAccount",
                "ConfigMap",
                "RoleBinding",
                "Service",
                "Deployment",
                "Widget",
                "ValidatingWebhookConfiguration"
            ]
        );
    }
}
