//! get, list (with selectors and pages) and watch (from a resourceVersion).

use super::*;

impl Api {
    pub fn get(&self, scope: &Scope, name: &str) -> Result<Value, ApiError> {
        let gr = scope.gr();
        self.store
            .txn(|t| t.get(&gr, scope.ns_key(), name))
            .map(|o| scope.present(&o))
            .ok_or_else(|| ApiError::not_found(&gr, name))
    }

    pub fn list(&self, scope: &Scope, opts: &ListOptions) -> Result<ListResult, ApiError> {
        let gr = scope.gr();
        let (after, snapshot_rv) = match &opts.continue_token {
            Some(token) => {
                let (rv, after) = decode_continue(token)?;
                (Some(after), Some(rv))
            }
            None => (None, None),
        };
        let namespace = scope.namespace.as_deref();
        let page = self.store.txn(|t| {
            let current = t.resource_version();
            let page = match snapshot_rv {
                // Later pages show the list as it was at the first page.
                Some(rv) if t.changed_since(&gr, rv) => {
                    let snapshot = t.list_at(&gr, namespace, rv)?;
                    let start = after.as_ref().map_or(0, |(ns, name)| {
                        snapshot.partition_point(|o| {
                            (meta_str(o, "namespace").unwrap_or_default(), name_of(o))
                                <= (ns.as_str(), name.as_str())
                        })
                    });
                    paginate(snapshot[start..].iter(), opts)
                }
                _ => paginate(t.list_from(&gr, namespace, after.as_ref()), opts),
            };
            Some((page, current))
        });
        let ((items, remaining), current_rv) = page.ok_or_else(|| {
            ApiError::gone(
                "The provided continue parameter is too old to display a consistent list result. \
                 You can start a new list without the continue parameter.",
            )
        })?;
        let resource_version = snapshot_rv.unwrap_or(current_rv);
        let continue_token = (remaining > 0)
            .then(|| {
                items
                    .last()
                    .map(|last| encode_continue(resource_version, &object_position(last)))
            })
            .flatten();
        Ok(ListResult {
            items,
            resource_version,
            continue_token,
            // As a real server does, no count when selectors make it costly to know.
            remaining: (remaining > 0 && opts.is_unfiltered()).then_some(remaining),
        })
    }

    /// Starts a watch. `Ok(None)` subscription means the requested version is too old (410).
    pub fn watch(&self, scope: &Scope, opts: &ListOptions) -> Result<WatchStart, ApiError> {
        let gr = scope.gr();
        let requested = match opts.resource_version.as_deref() {
            None | Some("" | "0") => None,
            Some(rv) => Some(rv.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("invalid resource version: \"{rv}\""))
            })?),
        };
        let send_initial = opts.send_initial_events.unwrap_or(requested.is_none());
        Ok(self.store.txn(|t| {
            let current = t.resource_version();
            let initial = if send_initial {
                t.list(&gr, scope.namespace.as_deref())
                    .into_iter()
                    .filter(|o| opts.matches(o))
                    .collect()
            } else {
                Vec::new()
            };
            let since = if send_initial {
                current
            } else {
                requested.unwrap_or(current)
            };
            let subscription = t.subscribe_since(since);
            if subscription.is_none() {
                tracing::debug!(
                    resource = %gr,
                    requested = since,
                    oldest = t.compacted(),
                    current,
                    "watch answered 410: its resourceVersion is older than the event history"
                );
            }
            WatchStart {
                initial,
                subscription,
                resource_version: current,
            }
        }))
    }
}
