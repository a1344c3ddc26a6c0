//! The commit message of an image update: `spec.git.commit.messageTemplate`
//! rendered with the data Flux gives it.
//!
//! **Owns:** Flux's template data (`.AutomationObject`, `.Changed` with
//! `.FileChanges` and the `.Changes` / `.Objects` methods, `.Values`), its
//! default message, its function set (Sprig's hermetic functions: no
//! dates, randomness, environment or DNS), and its errors, including the
//! hint for the removed `.Updated` / `.Changed.ImageResult` fields.
//!
//! Hand-written data over our Go template engine (`driftless-gotemplate`),
//! because the data must behave as Flux's Go structs do: `{{ .AutomationObject }}`
//! prints `namespace/name`, `range $object, $changes := .Changed.Objects`
//! binds a struct key whose `.Kind`/`.Name` a template reads, in the order
//! Go sorts such keys (apiVersion, kind, name, namespace).
//!
//! Where we differ: Flux's `.Changed.Changes` comes out in a Go map's
//! order, which varies; ours is file, object and document order.
//!
//! ```
//! use std::collections::BTreeMap;
//! use driftless_image::message::{render, Automation};
//! use driftless_image::setters::UpdateResult;
//! let automation = Automation { namespace: "flux-system".into(), name: "apps".into() };
//! let values = BTreeMap::from([("cluster".to_owned(), "prod".to_owned())]);
//! let text = render(Some("{{ .AutomationObject }} on {{ .Values.cluster }}"), &automation, &UpdateResult::default(), &values)?;
//! assert_eq!(text, "flux-system/apps on prod");
//! # Ok::<(), driftless_image::message::Error>(())
//! ```

use std::collections::BTreeMap;

use driftless_gotemplate::{ExecError, Object, ParseError, TemplateSet, Value};

use crate::setters::{Change, ObjectChanges, ObjectIdentifier, UpdateResult};

/// Flux's message when `messageTemplate` is empty.
pub const DEFAULT_MESSAGE_TEMPLATE: &str = "Update from image update automation";

/// The name Flux parses the template under; errors show it.
const TEMPLATE_NAME: &str = "commit message";

/// Sprig functions Flux leaves out, so a message depends on its data only.
const NON_HERMETIC: &[&str] = &[
    "date",
    "date_in_zone",
    "date_modify",
    "now",
    "htmlDate",
    "htmlDateInZone",
    "dateInZone",
    "dateModify",
    "randAlphaNum",
    "randAlpha",
    "randAscii",
    "randNumeric",
    "uuidv4",
    "env",
    "expandenv",
    "getHostByName",
];

/// The `ImageUpdateAutomation` the message is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Automation {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
}

/// Why a message could not be rendered. Each names the template and the
/// position (`commit message:LINE[:COL]`) through its source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The template does not parse.
    #[error("unable to create commit message template from spec")]
    Parse(#[source] ParseError),
    /// The template failed while running.
    #[error("failed to run template from spec")]
    Execute(#[source] Box<ExecError>),
    /// The template uses a field Flux removed.
    #[error(
        "template uses removed '{field}' field: use {instead} instead (see Flux's ImageUpdateAutomation message template docs)"
    )]
    RemovedField {
        /// `.Updated` or `.Changed.ImageResult`.
        field: &'static str,
        /// What replaces it.
        instead: &'static str,
        /// The engine's error.
        #[source]
        source: Box<ExecError>,
    },
}

/// Renders `template` (Flux's default when `None` or empty) for an update
/// of `automation` that made `changed`, with `values` as `.Values`.
///
/// # Errors
/// [`Error`] when the template does not parse or fails to run.
pub fn render(
    template: Option<&str>,
    automation: &Automation,
    changed: &UpdateResult,
    values: &BTreeMap<String, String>,
) -> Result<String, Error> {
    let text = template
        .filter(|t| !t.is_empty())
        .unwrap_or(DEFAULT_MESSAGE_TEMPLATE);
    let mut funcs = driftless_gotemplate::sprig::functions();
    for name in NON_HERMETIC {
        funcs.remove(name);
    }
    let mut set = TemplateSet::with_funcs(funcs);
    set.parse(TEMPLATE_NAME, text).map_err(Error::Parse)?;
    let data = Value::object(TemplateData {
        automation: Value::object(NamespacedName(automation.clone())),
        changed: Value::object(ResultData(changed.clone())),
        values: Value::Map(driftless_gotemplate::Map::from_string_entries(
            values
                .iter()
                .map(|(k, v)| (k.clone(), Value::string(v.as_str())))
                .collect(),
        )),
    });
    set.execute(TEMPLATE_NAME, &data).map_err(removed_field)
}

/// Flux's hint for templates written against the old data.
fn removed_field(source: ExecError) -> Error {
    let text = source.to_string();
    let source = Box::new(source);
    if text.contains("can't evaluate field Updated in type source.TemplateData") {
        return Error::RemovedField {
            field: ".Updated",
            instead: "'.Changed'",
            source,
        };
    }
    if text.contains("can't evaluate field ImageResult in type update.Result") {
        return Error::RemovedField {
            field: ".Changed.ImageResult",
            instead: "'.Changed.FileChanges' or '.Changed.Objects'",
            source,
        };
    }
    Error::Execute(source)
}

/// Flux's `source.TemplateData`.
#[derive(Debug)]
struct TemplateData {
    automation: Value,
    changed: Value,
    values: Value,
}

impl Object for TemplateData {
    fn type_name(&self) -> String {
        "source.TemplateData".to_owned()
    }
    fn kind_name(&self) -> &'static str {
        "struct"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "AutomationObject" => Some(self.automation.clone()),
            "Changed" => Some(self.changed.clone()),
            "Values" => Some(self.values.clone()),
            _ => None,
        }
    }
    fn format(&self) -> String {
        let show = driftless_gotemplate::fmt::format_value;
        format!(
            "{{{} {} {}}}",
            show(&self.automation),
            show(&self.changed),
            show(&self.values)
        )
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Go's `types.NamespacedName`, whose `String()` is `namespace/name`.
#[derive(Debug)]
struct NamespacedName(Automation);

impl Object for NamespacedName {
    fn type_name(&self) -> String {
        "types.NamespacedName".to_owned()
    }
    fn kind_name(&self) -> &'static str {
        "struct"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Name" => Some(Value::string(self.0.name.as_str())),
            "Namespace" => Some(Value::string(self.0.namespace.as_str())),
            _ => None,
        }
    }
    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        (name == "String").then(|| {
            if args.is_empty() {
                Ok(Value::string(self.format()))
            } else {
                Err(format!(
                    "wrong number of args for String: want 0 got {}",
                    args.len()
                ))
            }
        })
    }
    fn format(&self) -> String {
        format!("{}/{}", self.0.namespace, self.0.name)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Flux's `update.Result`: field `FileChanges`, methods `Changes` and
/// `Objects`.
#[derive(Debug)]
struct ResultData(UpdateResult);

impl Object for ResultData {
    fn type_name(&self) -> String {
        "update.Result".to_owned()
    }
    fn kind_name(&self) -> &'static str {
        "struct"
    }
    fn field(&self, name: &str) -> Option<Value> {
        (name == "FileChanges").then(|| self.file_changes())
    }
    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let value = match name {
            "Changes" => Value::list(self.0.changes().into_iter().map(change).collect()),
            "Objects" => Value::object(ObjectChangesData(self.0.objects())),
            _ => return None,
        };
        Some(if args.is_empty() {
            Ok(value)
        } else {
            Err(format!(
                "wrong number of args for {name}: want 0 got {}",
                args.len()
            ))
        })
    }
    fn format(&self) -> String {
        format!(
            "{{{}}}",
            driftless_gotemplate::fmt::format_value(&self.file_changes())
        )
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl ResultData {
    fn file_changes(&self) -> Value {
        Value::map(
            self.0
                .file_changes
                .iter()
                .map(|(file, objects)| {
                    (
                        file.clone(),
                        Value::object(ObjectChangesData(objects.clone())),
                    )
                })
                .collect(),
        )
    }
}

/// Flux's `update.ObjectChanges`, a Go map keyed by a struct.
#[derive(Debug)]
struct ObjectChangesData(ObjectChanges);

impl Object for ObjectChangesData {
    fn type_name(&self) -> String {
        "update.ObjectChanges".to_owned()
    }
    fn kind_name(&self) -> &'static str {
        "map"
    }
    fn range_entries(&self) -> Option<Vec<(Value, Value)>> {
        Some(
            self.0
                .iter()
                .map(|(object, changes)| {
                    (
                        Value::object(Identifier(object.clone())),
                        Value::list(changes.iter().cloned().map(change).collect()),
                    )
                })
                .collect(),
        )
    }
    /// The values only: enough for `len`, which is what templates ask of
    /// this map besides `range` (which sees the keys through
    /// `range_entries`).
    fn as_collection(&self) -> Option<Value> {
        Some(Value::list(
            self.0
                .values()
                .map(|changes| Value::list(changes.iter().cloned().map(change).collect()))
                .collect(),
        ))
    }
    fn is_true(&self) -> bool {
        !self.0.is_empty()
    }
    fn format(&self) -> String {
        let entries: Vec<String> = self
            .0
            .iter()
            .map(|(object, changes)| {
                let changes: Vec<String> = changes.iter().map(format_change).collect();
                format!("{}:[{}]", format_identifier(object), changes.join(" "))
            })
            .collect();
        format!("map[{}]", entries.join(" "))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Flux's `update.ObjectIdentifier` (kyaml's `ResourceIdentifier` with its
/// `TypeMeta` and `NameMeta` embedded, so the fields are promoted).
#[derive(Debug)]
struct Identifier(ObjectIdentifier);

impl Object for Identifier {
    fn type_name(&self) -> String {
        "update.ObjectIdentifier".to_owned()
    }
    fn kind_name(&self) -> &'static str {
        "struct"
    }
    fn field(&self, name: &str) -> Option<Value> {
        let value = match name {
            "APIVersion" => &self.0.api_version,
            "Kind" => &self.0.kind,
            "Name" => &self.0.name,
            "Namespace" => &self.0.namespace,
            _ => return None,
        };
        Some(Value::string(value.as_str()))
    }
    fn format(&self) -> String {
        format_identifier(&self.0)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Flux's `update.Change`.
#[derive(Debug)]
struct ChangeData(Change);

impl Object for ChangeData {
    fn type_name(&self) -> String {
        "update.Change".to_owned()
    }
    fn kind_name(&self) -> &'static str {
        "struct"
    }
    fn field(&self, name: &str) -> Option<Value> {
        let value = match name {
            "OldValue" => &self.0.old_value,
            "NewValue" => &self.0.new_value,
            "Setter" => &self.0.setter,
            _ => return None,
        };
        Some(Value::string(value.as_str()))
    }
    fn format(&self) -> String {
        format_change(&self.0)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn change(change: Change) -> Value {
    Value::object(ChangeData(change))
}

/// Go's `%v` of the nested struct: `{{{apiVersion kind} {name namespace}}}`.
fn format_identifier(o: &ObjectIdentifier) -> String {
    format!(
        "{{{{{{{} {}}} {{{} {}}}}}}}",
        o.api_version, o.kind, o.name, o.namespace
    )
}

fn format_change(c: &Change) -> String {
    format!("{{{} {} {}}}", c.old_value, c.new_value, c.setter)
}

#[cfg(test)]
mod tests;
