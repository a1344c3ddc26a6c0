//! Object storage with one global resourceVersion, a bounded history of
//! change events for watches, and an optional append-only log on disk.
//!
//! Owns: the objects, the version counter, the event history and the log.
//! Does not know about HTTP, validation or merge semantics: callers hand it
//! finished objects inside a [`Txn`], which holds the only lock, so every
//! read-modify-write is atomic and versions are handed out in order.
//!
//! Why an append-only log rather than a database: writes stay O(object)
//! whatever the store holds, a restart replays the log and rewrites it
//! compacted, and nothing extra needs building.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::catalog::GroupResource;

mod owners;
pub use owners::ObjectKey;
use owners::OwnerIndex;

/// How many past events a watch can resume from; older versions get 410 Gone.
pub const HISTORY_LIMIT: usize = 20_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "ADDED")]
    Added,
    #[serde(rename = "MODIFIED")]
    Modified,
    #[serde(rename = "DELETED")]
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

#[derive(Debug)]
pub struct WatchEvent {
    pub resource_version: u64,
    pub group_resource: GroupResource,
    pub namespace: String,
    pub event_type: EventType,
    pub object: Arc<Value>,
    /// The object before this change, so a filtered watch can tell when an
    /// object stops (or starts) matching its selectors.
    pub previous: Option<Arc<Value>>,
}

/// Objects of one resource keyed by (namespace, name); "" for cluster scope.
type Objects = BTreeMap<(String, String), Arc<Value>>;

#[derive(Serialize, Deserialize)]
struct LogRecord<S = String, O = Value> {
    /// The version this write was given; replay resumes the counter after the highest.
    rv: u64,
    group: S,
    resource: S,
    namespace: S,
    name: S,
    /// `None` records a deletion.
    object: Option<O>,
}

/// The record as written: borrowed, so logging never copies an object.
type LogRecordRef<'a> = LogRecord<&'a str, &'a Value>;

fn write_record(writer: &mut BufWriter<File>, record: &LogRecordRef<'_>) -> std::io::Result<()> {
    serde_json::to_writer(&mut *writer, record)?;
    writer.write_all(b"\n")
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the object log {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the object log {path} is corrupt at line {line}; move it away to start empty")]
    Corrupt {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot write the object log {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

struct Log {
    path: PathBuf,
    writer: BufWriter<File>,
}

pub struct StoreState {
    resource_version: u64,
    objects: HashMap<GroupResource, Objects>,
    history: VecDeque<Arc<WatchEvent>>,
    /// The newest version no longer in `history`; watches from before it get 410.
    compacted: u64,
    log: Option<Log>,
    events: broadcast::Sender<Arc<WatchEvent>>,
    /// Who names whom in `ownerReferences`, for garbage collection.
    owners: OwnerIndex,
}

pub struct Store {
    state: Mutex<StoreState>,
}

impl Store {
    pub fn in_memory() -> Self {
        Self::with_log(0, HashMap::new(), None)
    }

    fn with_log(
        resource_version: u64,
        objects: HashMap<GroupResource, Objects>,
        log: Option<Log>,
    ) -> Self {
        let (events, _) = broadcast::channel(HISTORY_LIMIT);
        let mut owners = OwnerIndex::default();
        for (gr, bucket) in &objects {
            for ((namespace, name), object) in bucket {
                let key = || ObjectKey {
                    gr: gr.clone(),
                    namespace: namespace.clone(),
                    name: name.clone(),
                };
                owners.update(key, None, Some(object));
            }
        }
        Store {
            state: Mutex::new(StoreState {
                resource_version,
                objects,
                history: VecDeque::new(),
                compacted: resource_version,
                log,
                events,
                owners,
            }),
        }
    }

    /// Opens (or creates) the log at `path`, replays it and rewrites it compacted.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut objects: HashMap<GroupResource, Objects> = HashMap::new();
        let mut resource_version = 0;
        if path.exists() {
            let file = File::open(path).map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
            for (index, line) in BufReader::new(file).lines().enumerate() {
                let line = line.map_err(|source| StoreError::Open {
                    path: path.to_owned(),
                    source,
                })?;
                if line.trim().is_empty() {
                    continue;
                }
                let record: LogRecord = match serde_json::from_str(&line) {
                    Ok(record) => record,
                    // A torn final line is what a crash mid-write leaves; the record was never acknowledged.
                    Err(_) if is_last_line(path, index) => break,
                    Err(source) => {
                        return Err(StoreError::Corrupt {
                            path: path.to_owned(),
                            line: index + 1,
                            source,
                        });
                    }
                };
                resource_version = resource_version.max(record.rv);
                let bucket = objects
                    .entry(GroupResource::new(&record.group, &record.resource))
                    .or_default();
                let key = (record.namespace, record.name);
                match record.object {
                    Some(object) => {
                        bucket.insert(key, Arc::new(object));
                    }
                    None => {
                        bucket.remove(&key);
                    }
                }
            }
        }
        let write_err = |source| StoreError::Write {
            path: path.to_owned(),
            source,
        };
        let compacted_path = path.with_extension("compacting");
        {
            let mut writer = BufWriter::new(File::create(&compacted_path).map_err(write_err)?);
            for (gr, bucket) in &objects {
                for ((namespace, name), object) in bucket {
                    let record = LogRecordRef {
                        rv: resource_version_of(object).unwrap_or(0),
                        group: &gr.group,
                        resource: &gr.resource,
                        namespace,
                        name,
                        object: Some(object.as_ref()),
                    };
                    write_record(&mut writer, &record).map_err(write_err)?;
                }
            }
            // Deletions are compacted away; this empty record keeps the counter from going back.
            let counter = LogRecordRef {
                rv: resource_version,
                group: "",
                resource: "",
                namespace: "",
                name: "",
                object: None,
            };
            write_record(&mut writer, &counter).map_err(write_err)?;
            writer.flush().map_err(write_err)?;
        }
        std::fs::rename(&compacted_path, path).map_err(write_err)?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(write_err)?;
        let log = Log {
            path: path.to_owned(),
            writer: BufWriter::new(file),
        };
        Ok(Self::with_log(resource_version, objects, Some(log)))
    }

    /// Runs `f` with exclusive access to the store.
    pub fn txn<R>(&self, f: impl FnOnce(&mut Txn<'_>) -> R) -> R {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut txn = Txn { state: &mut state };
        f(&mut txn)
    }
}

fn is_last_line(path: &Path, index: usize) -> bool {
    File::open(path).is_ok_and(|f| BufReader::new(f).lines().count() == index + 1)
}

pub fn resource_version_of(object: &Value) -> Option<u64> {
    object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .and_then(|rv| rv.parse().ok())
}

/// A watch's starting point: the events already past, and a receiver for the rest.
pub struct Subscription {
    pub backlog: Vec<Arc<WatchEvent>>,
    pub receiver: broadcast::Receiver<Arc<WatchEvent>>,
}

pub struct Txn<'a> {
    state: &'a mut StoreState,
}

impl Txn<'_> {
    pub fn resource_version(&self) -> u64 {
        self.state.resource_version
    }

    /// The newest version a watch can no longer resume from (410 Gone at or below it, bar itself).
    pub fn compacted(&self) -> u64 {
        self.state.compacted
    }

    pub fn get(&self, gr: &GroupResource, namespace: &str, name: &str) -> Option<Arc<Value>> {
        self.state
            .objects
            .get(gr)?
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    /// Objects of a resource, in (namespace, name) order, optionally within one namespace.
    pub fn list(&self, gr: &GroupResource, namespace: Option<&str>) -> Vec<Arc<Value>> {
        let Some(bucket) = self.state.objects.get(gr) else {
            return Vec::new();
        };
        match namespace {
            None => bucket.values().cloned().collect(),
            Some(ns) => bucket
                .range((ns.to_string(), String::new())..)
                .take_while(|((n, _), _)| n == ns)
                .map(|(_, o)| o.clone())
                .collect(),
        }
    }

    /// Objects of a resource in list order, after the `after` (namespace,
    /// name) position when one is given: a page costs what it holds, not
    /// what the resource holds.
    pub fn list_from<'t>(
        &'t self,
        gr: &GroupResource,
        namespace: Option<&'t str>,
        after: Option<&(String, String)>,
    ) -> impl Iterator<Item = &'t Arc<Value>> + 't {
        use std::ops::Bound;
        let start = match (after, namespace) {
            (Some(key), _) => Bound::Excluded(key.clone()),
            (None, Some(ns)) => Bound::Included((ns.to_string(), String::new())),
            (None, None) => Bound::Unbounded,
        };
        self.state
            .objects
            .get(gr)
            .into_iter()
            .flat_map(move |bucket| bucket.range((start.clone(), Bound::Unbounded)))
            .take_while(move |((ns, _), _)| namespace.is_none_or(|want| want == ns))
            .map(|(_, object)| object)
    }

    /// Whether objects of a resource changed after version `rv` (or the
    /// history no longer tells).
    pub fn changed_since(&self, gr: &GroupResource, rv: u64) -> bool {
        rv < self.state.compacted
            || self
                .state
                .history
                .iter()
                .rev()
                .take_while(|e| e.resource_version > rv)
                .any(|e| e.group_resource == *gr)
    }

    /// Objects of a resource as they were at version `rv` (a paginated
    /// list's snapshot), rebuilt by undoing the newer events in history.
    /// `None` when history no longer reaches back to `rv`.
    pub fn list_at(
        &self,
        gr: &GroupResource,
        namespace: Option<&str>,
        rv: u64,
    ) -> Option<Vec<Arc<Value>>> {
        if rv < self.state.compacted {
            return None;
        }
        let newer = self
            .state
            .history
            .iter()
            .rev()
            .take_while(|e| e.resource_version > rv)
            .filter(|e| e.group_resource == *gr);
        let mut undo = newer.peekable();
        if undo.peek().is_none() {
            return Some(self.list(gr, namespace));
        }
        let mut objects: Objects = self.state.objects.get(gr).cloned().unwrap_or_default();
        for event in undo {
            let key = object_key(&event.object);
            match &event.previous {
                Some(previous) => objects.insert(key, previous.clone()),
                None => objects.remove(&key),
            };
        }
        Some(
            objects
                .into_iter()
                .filter(|((ns, _), _)| namespace.is_none_or(|n| n == ns))
                .map(|(_, o)| o)
                .collect(),
        )
    }

    /// The resources that hold at least one object in `namespace`.
    pub fn resources_with_objects_in(&self, namespace: &str) -> Vec<GroupResource> {
        self.state
            .objects
            .iter()
            .filter(|(_, bucket)| {
                bucket
                    .range((namespace.to_string(), String::new())..)
                    .next()
                    .is_some_and(|((n, _), _)| n == namespace)
            })
            .map(|(gr, _)| gr.clone())
            .collect()
    }

    fn bump(&mut self) -> u64 {
        self.state.resource_version += 1;
        self.state.resource_version
    }

    /// Stores `object` under a new resourceVersion and announces it.
    pub fn put(&mut self, gr: &GroupResource, mut object: Value) -> Result<Arc<Value>, StoreError> {
        let rv = self.bump();
        object["metadata"]["resourceVersion"] = Value::String(rv.to_string());
        let (namespace, name) = object_key(&object);
        let object = Arc::new(object);
        let previous = self
            .state
            .objects
            .entry(gr.clone())
            .or_default()
            .insert((namespace.clone(), name.clone()), object.clone());
        let key = || ObjectKey {
            gr: gr.clone(),
            namespace: namespace.clone(),
            name: name.clone(),
        };
        self.state
            .owners
            .update(key, previous.as_deref(), Some(object.as_ref()));
        let event_type = if previous.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.record(
            WatchEvent {
                resource_version: rv,
                group_resource: gr.clone(),
                namespace,
                event_type,
                object: object.clone(),
                previous,
            },
            &name,
        )?;
        Ok(object)
    }

    /// Removes an object; the DELETED event carries it with a final resourceVersion.
    pub fn remove(
        &mut self,
        gr: &GroupResource,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Arc<Value>>, StoreError> {
        let Some(removed) = self
            .state
            .objects
            .get_mut(gr)
            .and_then(|bucket| bucket.remove(&(namespace.to_string(), name.to_string())))
        else {
            return Ok(None);
        };
        let key = || ObjectKey {
            gr: gr.clone(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        };
        self.state.owners.update(key, Some(removed.as_ref()), None);
        let rv = self.bump();
        let mut last = removed.as_ref().clone();
        last["metadata"]["resourceVersion"] = Value::String(rv.to_string());
        let last = Arc::new(last);
        self.record(
            WatchEvent {
                resource_version: rv,
                group_resource: gr.clone(),
                namespace: namespace.to_string(),
                event_type: EventType::Deleted,
                object: last.clone(),
                previous: Some(removed),
            },
            name,
        )?;
        Ok(Some(last))
    }

    /// Logs a change (when persistent) and announces it to watchers.
    fn record(&mut self, event: WatchEvent, name: &str) -> Result<(), StoreError> {
        if let Some(log) = &mut self.state.log {
            let record = LogRecordRef {
                rv: event.resource_version,
                group: &event.group_resource.group,
                resource: &event.group_resource.resource,
                namespace: &event.namespace,
                name,
                object: (event.event_type != EventType::Deleted).then_some(event.object.as_ref()),
            };
            write_record(&mut log.writer, &record)
                .and_then(|()| log.writer.flush())
                .map_err(|source| StoreError::Write {
                    path: log.path.clone(),
                    source,
                })?;
        }
        let event = Arc::new(event);
        if self.state.history.len() >= HISTORY_LIMIT
            && let Some(dropped) = self.state.history.pop_front()
        {
            self.state.compacted = dropped.resource_version;
        }
        self.state.history.push_back(event.clone());
        // No receivers is normal: nobody is watching.
        let _ = self.state.events.send(event);
        Ok(())
    }

    /// Events after `since` (all of them must still be in history), and a
    /// receiver for what follows. `None` when `since` is too old (410 Gone).
    pub fn subscribe_since(&self, since: u64) -> Option<Subscription> {
        if since < self.state.compacted {
            return None;
        }
        let backlog = self
            .state
            .history
            .iter()
            .filter(|e| e.resource_version > since)
            .cloned()
            .collect();
        Some(Subscription {
            backlog,
            receiver: self.state.events.subscribe(),
        })
    }

    /// The objects whose `ownerReferences` name `owner_uid`.
    pub fn dependents_of(&self, owner_uid: &str) -> Vec<ObjectKey> {
        self.state.owners.dependents_of(owner_uid)
    }

    /// The object stored at `key`.
    pub fn get_key(&self, key: &ObjectKey) -> Option<Arc<Value>> {
        self.get(&key.gr, &key.namespace, &key.name)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<WatchEvent>> {
        self.state.events.subscribe()
    }

    pub fn object_count(&self) -> usize {
        self.state.objects.values().map(BTreeMap::len).sum()
    }
}

fn object_key(object: &Value) -> (String, String) {
    let meta = &object["metadata"];
    (
        meta["namespace"].as_str().unwrap_or_default().to_string(),
        meta["name"].as_str().unwrap_or_default().to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}})
    }

    #[test]
    fn versions_increase_and_history_replays_after_a_version() {
        let store = Store::in_memory();
        let gr = GroupResource::new("", "configmaps");
        store.txn(|t| {
            t.put(&gr, cm("a")).expect("put");
            t.put(&gr, cm("b")).expect("put");
            t.remove(&gr, "default", "a").expect("remove");
            assert_eq!(t.resource_version(), 3);
            let sub = t.subscribe_since(1).expect("in history");
            let kinds: Vec<_> = sub.backlog.iter().map(|e| e.event_type).collect();
            assert_eq!(kinds, [EventType::Added, EventType::Deleted]);
            assert_eq!(t.list(&gr, Some("default")).len(), 1);
            assert!(t.list(&gr, Some("other")).is_empty());
        });
    }

    #[test]
    fn list_at_an_older_version_undoes_later_writes() {
        let store = Store::in_memory();
        let gr = GroupResource::new("", "configmaps");
        store.txn(|t| {
            t.put(&gr, cm("a")).expect("put");
            t.put(&gr, cm("b")).expect("put");
            let snapshot = t.resource_version();
            let mut changed = cm("a");
            changed["data"] = json!({"k": "v"});
            t.put(&gr, changed).expect("put");
            t.remove(&gr, "default", "b").expect("remove");
            t.put(&gr, cm("c")).expect("put");
            let then = t
                .list_at(&gr, Some("default"), snapshot)
                .expect("in history");
            let names: Vec<_> = then.iter().map(|o| object_key(o).1).collect();
            assert_eq!(names, ["a", "b"]);
            assert!(then[0].get("data").is_none(), "a as it was");
            assert_eq!(
                t.list_at(&gr, Some("other"), snapshot).map(|l| l.len()),
                Some(0)
            );
            assert_eq!(t.list_at(&gr, None, 0).map(|l| l.len()), Some(0));
        });
    }

    #[test]
    fn log_survives_reopen() {
        let dir = std::env::temp_dir().join(format!("driftless-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("objects.jsonl");
        let gr = GroupResource::new("", "configmaps");
        {
            let store = Store::open(&path).expect("open");
            store.txn(|t| {
                t.put(&gr, cm("kept")).expect("put");
                t.put(&gr, cm("gone")).expect("put");
                t.remove(&gr, "default", "gone").expect("remove");
            });
        }
        drop(Store::open(&path).expect("reopen once"));
        let store = Store::open(&path).expect("reopen twice");
        store.txn(|t| {
            assert!(t.get(&gr, "default", "kept").is_some());
            assert!(t.get(&gr, "default", "gone").is_none());
            assert_eq!(
                t.resource_version(),
                3,
                "the counter resumes after the last write"
            );
        });
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
