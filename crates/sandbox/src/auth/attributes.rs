//! What a request asks, in RBAC's terms (Kubernetes' "request info"): a
//! verb on a resource (group, resource, subresource, name, namespace) or
//! on a non-resource path such as `/version`.
//!
//! Parsed from the URL alone, as Kubernetes does, so authorization needs
//! no catalog and an unknown resource is refused before it is looked up.

use serde_json::json;

use super::User;
use crate::status::ApiError;

/// The attributes RBAC rules are matched against.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes {
    pub verb: String,
    /// `None` for a non-resource request (then `path` is what is asked).
    pub resource: Option<ResourceAttributes>,
    pub path: String,
}

/// A resource request's target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceAttributes {
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    /// Empty for cluster-scoped resources and requests across namespaces.
    pub namespace: String,
}

impl ResourceAttributes {
    /// `resource` or `resource/subresource`, as rules and messages name it.
    pub fn combined(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

impl Attributes {
    /// A resource request, as access reviews describe one.
    pub fn resource(verb: &str, target: ResourceAttributes) -> Self {
        Attributes {
            verb: verb.to_string(),
            resource: Some(target),
            path: String::new(),
        }
    }

    /// A non-resource request.
    pub fn non_resource(verb: &str, path: &str) -> Self {
        Attributes {
            verb: verb.to_string(),
            resource: None,
            path: path.to_string(),
        }
    }

    /// What an HTTP request asks. `field_selector` names the object of a
    /// list or watch (`metadata.name=x`) as Kubernetes reads it.
    pub fn from_request(
        method: &hyper::Method,
        path: &str,
        watch_param: bool,
        field_selector: Option<&str>,
    ) -> Self {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let rest = match parts.as_slice() {
            ["api", _version, rest @ ..] if !rest.is_empty() => Some((String::new(), rest)),
            ["apis", group, _version, rest @ ..] if !rest.is_empty() => {
                Some(((*group).to_string(), rest))
            }
            _ => None,
        };
        let Some((group, rest)) = rest else {
            return Attributes::non_resource(&method.as_str().to_ascii_lowercase(), path);
        };
        let (watch_path, rest) = match rest {
            ["watch", tail @ ..] => (true, tail),
            _ => (false, rest),
        };
        let mut target = ResourceAttributes {
            group,
            ..Default::default()
        };
        let rest: &[&str] = match rest {
            ["namespaces", ns, tail @ ..] => {
                target.namespace = (*ns).to_string();
                match tail {
                    [sub, ..] if !matches!(*sub, "status" | "finalize") => tail,
                    _ => rest,
                }
            }
            _ => rest,
        };
        if let Some(resource) = rest.first() {
            target.resource = (*resource).to_string();
        }
        if let Some(name) = rest.get(1) {
            target.name = (*name).to_string();
        }
        if let Some(sub) = rest.get(2) {
            target.subresource = (*sub).to_string();
        }
        let verb = match *method {
            hyper::Method::POST => "create",
            hyper::Method::PUT => "update",
            hyper::Method::PATCH => "patch",
            hyper::Method::DELETE if target.name.is_empty() => "deletecollection",
            hyper::Method::DELETE => "delete",
            _ if watch_path || watch_param => "watch",
            _ if target.name.is_empty() => "list",
            _ => "get",
        };
        // A list or watch of one object by name is authorized for that name.
        if matches!(verb, "list" | "watch")
            && target.name.is_empty()
            && let Some(name) = field_selector
                .into_iter()
                .flat_map(|s| s.split(','))
                .find_map(|term| term.trim().strip_prefix("metadata.name="))
        {
            target.name = name.to_string();
        }
        Attributes::resource(verb, target)
    }

    /// The 403 a real API server answers when `user` may not do this.
    pub fn forbidden(&self, user: &User) -> ApiError {
        let Some(target) = &self.resource else {
            return ApiError::forbidden(format!(
                "forbidden: User \"{}\" cannot {} path \"{}\"",
                user.name, self.verb, self.path
            ))
            .with_details(json!({}));
        };
        let scope = if target.namespace.is_empty() {
            "at the cluster scope".to_string()
        } else {
            format!("in the namespace \"{}\"", target.namespace)
        };
        let why = format!(
            "User \"{}\" cannot {} resource \"{}\" in API group \"{}\" {scope}",
            user.name,
            self.verb,
            target.combined(),
            target.group
        );
        let qualified = if target.group.is_empty() {
            target.resource.clone()
        } else {
            format!("{}.{}", target.resource, target.group)
        };
        let message = if target.name.is_empty() {
            format!("{qualified} is forbidden: {why}")
        } else {
            format!("{qualified} \"{}\" is forbidden: {why}", target.name)
        };
        let mut details = json!({"name": target.name, "kind": target.resource});
        if !target.group.is_empty() {
            details["group"] = json!(target.group);
        }
        ApiError::forbidden(message).with_details(details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::Method;

    fn parse(method: &Method, path: &str) -> Attributes {
        Attributes::from_request(method, path, false, None)
    }

    #[test]
    fn urls_become_verbs_on_resources() {
        let a = parse(
            &Method::GET,
            "/apis/apps/v1/namespaces/web/deployments/api/scale",
        );
        assert_eq!(a.verb, "get");
        let r = a.resource.expect("a resource request");
        assert_eq!(
            (
                r.group.as_str(),
                r.namespace.as_str(),
                r.combined(),
                r.name.as_str()
            ),
            ("apps", "web", "deployments/scale".to_string(), "api")
        );
        assert_eq!(parse(&Method::GET, "/api/v1/pods").verb, "list");
        assert_eq!(
            parse(&Method::GET, "/api/v1/watch/namespaces/a/pods").verb,
            "watch"
        );
        assert_eq!(
            Attributes::from_request(&Method::GET, "/api/v1/namespaces/a/pods", true, None).verb,
            "watch"
        );
        assert_eq!(
            parse(&Method::DELETE, "/api/v1/namespaces/a/pods").verb,
            "deletecollection"
        );
        assert_eq!(
            parse(&Method::POST, "/api/v1/namespaces/a/pods").verb,
            "create"
        );
    }

    #[test]
    fn a_namespace_is_its_own_namespace_and_discovery_is_not_a_resource() {
        let ns = parse(&Method::GET, "/api/v1/namespaces/team")
            .resource
            .expect("resource");
        assert_eq!(
            (
                ns.resource.as_str(),
                ns.name.as_str(),
                ns.namespace.as_str()
            ),
            ("namespaces", "team", "team")
        );
        let finalize = parse(&Method::PUT, "/api/v1/namespaces/team/finalize")
            .resource
            .expect("resource");
        assert_eq!(finalize.combined(), "namespaces/finalize");
        for path in [
            "/api",
            "/api/v1",
            "/apis/apps/v1",
            "/version",
            "/openapi/v3",
        ] {
            assert!(parse(&Method::GET, path).resource.is_none(), "{path}");
        }
    }

    #[test]
    fn a_watch_of_one_name_is_authorized_for_that_name() {
        let a = Attributes::from_request(
            &Method::GET,
            "/api/v1/namespaces/a/configmaps",
            true,
            Some("metadata.name=settings"),
        );
        assert_eq!(a.resource.expect("resource").name, "settings");
    }

    #[test]
    fn forbidden_reads_as_the_api_server_says_it() {
        let user = User {
            name: "jane".into(),
            uid: String::new(),
            groups: vec![],
        };
        let a = parse(
            &Method::POST,
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        );
        assert_eq!(
            a.forbidden(&user).message,
            "clusterrolebindings.rbac.authorization.k8s.io is forbidden: User \"jane\" cannot create resource \"clusterrolebindings\" in API group \"rbac.authorization.k8s.io\" at the cluster scope"
        );
        let a = parse(&Method::GET, "/api/v1/namespaces/other/secrets/key");
        assert_eq!(
            a.forbidden(&user).message,
            "secrets \"key\" is forbidden: User \"jane\" cannot get resource \"secrets\" in API group \"\" in the namespace \"other\""
        );
        assert_eq!(
            parse(&Method::GET, "/version").forbidden(&user).message,
            "forbidden: User \"jane\" cannot get path \"/version\""
        );
    }
}
