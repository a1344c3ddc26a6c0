//! `range` over an object that stands for a Go map with non-string keys
//! (a `map[SomeStruct]T`), through `Object::range_entries`.

use driftless_gotemplate::{Object, TemplateSet, Value};

/// A key struct with two fields, printed as Go prints a struct.
#[derive(Debug)]
struct Key(&'static str, &'static str);

impl Object for Key {
    fn type_name(&self) -> String {
        "main.Key".to_owned()
    }
    fn kind_name(&self) -> &'static str {
        "struct"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Kind" => Some(Value::string(self.0)),
            "Name" => Some(Value::string(self.1)),
            _ => None,
        }
    }
    fn format(&self) -> String {
        format!("{{{} {}}}", self.0, self.1)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[derive(Debug)]
struct Keyed;

impl Object for Keyed {
    fn type_name(&self) -> String {
        "map[main.Key]int".to_owned()
    }
    fn kind_name(&self) -> &'static str {
        "map"
    }
    fn range_entries(&self) -> Option<Vec<(Value, Value)>> {
        Some(vec![
            (Value::object(Key("Deployment", "a")), Value::Int(1)),
            (Value::object(Key("Service", "b")), Value::Int(2)),
        ])
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[test]
fn range_binds_object_keys() {
    let mut set = TemplateSet::new();
    set.parse(
        "t",
        "{{ range $k, $v := . }}{{ $k.Kind }}/{{ $k.Name }}={{ $v }} {{ end }}{{ range . }}[{{ . }}]{{ end }}",
    )
    .expect("parses");
    let out = set.execute("t", &Value::object(Keyed)).expect("executes");
    assert_eq!(out, "Deployment/a=1 Service/b=2 [1][2]");
}
