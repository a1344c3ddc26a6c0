//! The status and scale subresources.

use super::*;

impl Api {
    /// Writes status as a controller would (the rollout simulation uses this).
    pub fn write_status(
        &self,
        gr: &GroupResource,
        namespace: &str,
        name: &str,
        expected_rv: Option<u64>,
        status: Value,
        manager: &str,
    ) -> Result<bool, ApiError> {
        let Some(rt) = self.catalog().get(gr) else {
            return Ok(false);
        };
        let scope = Scope {
            version: rt.preferred_version().to_string(),
            namespace: (!namespace.is_empty()).then(|| namespace.to_string()),
            rt,
        };
        let opts = WriteOptions {
            field_manager: Some(manager.to_string()),
            subresource: Some("status".into()),
            ..Default::default()
        };
        self.store.txn(|t| {
            let Some(live) = t.get(gr, namespace, name) else {
                return Ok(false);
            };
            if expected_rv.is_some() && resource_version_of(&live) != expected_rv {
                return Ok(false);
            }
            let mut new = live.as_ref().clone();
            new["status"] = status;
            let object = self.finish_write(&scope, Some(&live), new, &opts, WriteKind::Update)?;
            self.commit(t, &scope, Some(&live), object, &opts)?;
            Ok(true)
        })
    }
}

pub(super) fn scale_of(object: &Value) -> Value {
    let meta = meta(object);
    let selector = object
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)},
        "status": {
            "replicas": object.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": selector,
        },
    })
}

impl Api {
    pub fn scale(&self, scope: &Scope, name: &str) -> Result<Value, ApiError> {
        Ok(scale_of(&self.get(scope, name)?))
    }

    /// Writes `spec.replicas` through the scale subresource.
    pub fn set_replicas(
        &self,
        scope: &Scope,
        name: &str,
        replicas: i64,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let patch = json!({"spec": {"replicas": replicas}}).to_string();
        let main = WriteOptions {
            subresource: None,
            ..opts.clone()
        };
        let (object, _) = self.patch(
            scope,
            name,
            PatchType::Merge,
            patch.as_bytes(),
            false,
            &main,
        )?;
        Ok(scale_of(&object))
    }
}
