//! The template language: actions, pipelines, variables, control flow,
//! definitions, printing and errors, with outputs as Go/Helm produce them.

mod common;

use common::check_table;

#[test]
fn printing_follows_go_fmt() {
    check_table(&[
        ("{{ .Values.big }}", "1e+06"),
        ("{{ .Values.f }}|{{ .Values.i }}", "3.5|3"),
        ("{{ .Values.m }}", "map[a:1 b:2]"),
        ("{{ .Values.l }}", "[1 2 x]"),
        ("{{ .Values.nul }}", "<no value>"),
        ("{{ .Values.missing }}", "<no value>"),
        ("{{ printf \"%s\" nil }}", "%!s(<nil>)"),
        ("{{ print nil }}", "<nil>"),
        ("{{ print 1 2 \"a\" 3 }}", "1 2a3"),
        ("{{ println 1 \"a\" }}", "1 a\n"),
        (
            "{{ 1.5 }} {{ 1e3 }} {{ 0x10 }} {{ 'a' }} {{ -3 }}",
            "1.5 1000 16 97 -3",
        ),
        ("{{ \"a\\tb\" }}|{{ `raw\\n` }}", "a\tb|raw\\n"),
        ("{{ true }} {{ print nil }}", "true <nil>"),
        ("{{ nil | print }}", "ERR:nil is not a command"),
    ]);
}

#[test]
fn trimming_and_comments() {
    check_table(&[
        ("a  {{- 1 -}}  b", "a1b"),
        ("a {{/* hidden */}} b", "a  b"),
        ("a {{- /* hidden */ -}} b", "ab"),
        ("x\n  {{- if true }}\n  y\n  {{- end }}", "x\n  y"),
    ]);
}

#[test]
fn control_flow() {
    check_table(&[
        ("{{ if .Values.t }}y{{ else }}n{{ end }}", "y"),
        (
            "{{ if .Values.empty }}y{{ else if .Values.zero }}z{{ else }}n{{ end }}",
            "n",
        ),
        ("{{ with .Values.nested.inner }}{{ .v }}{{ end }}", "deep"),
        (
            "{{ with .Values.missing }}x{{ else with .Values.s }}{{ . }}{{ end }}",
            "abc",
        ),
        ("{{ range .Values.l }}[{{ . }}]{{ end }}", "[1][2][x]"),
        (
            "{{ range $k, $v := .Values.m }}{{ $k }}={{ $v }};{{ end }}",
            "a=1;b=2;",
        ),
        ("{{ range $i, $v := .Values.l }}{{ $i }}{{ end }}", "012"),
        (
            "{{ range .Values.missing }}x{{ else }}none{{ end }}",
            "none",
        ),
        ("{{ range 3 }}{{ . }}{{ end }}", "012"),
        ("{{ range $i := 3 }}{{ $i }}{{ end }}", "012"),
        (
            "{{ range .Values.l }}{{ if eq (printf \"%T\" .) \"string\" }}{{ break }}{{ end }}{{ . }}{{ end }}",
            "12",
        ),
        (
            "{{ range .Values.l }}{{ if eq . 1.0 }}{{ continue }}{{ end }}{{ . }}{{ end }}",
            "ERR:incompatible types for comparison",
        ),
        (
            "{{ range .Values.m }}{{ if eq . 1.0 }}{{ continue }}{{ end }}{{ . }}{{ end }}",
            "2",
        ),
        (
            "{{ range $x := .Values.empty }}{{ else }}e{{ end }}",
            "ERR:range can't iterate over ",
        ),
    ]);
}

#[test]
fn variables_scope_like_go() {
    check_table(&[
        (
            "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}",
            "2",
        ),
        (
            "{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}",
            "21",
        ),
        (
            "{{ $.Release.Name }}{{ with .Values }}{{ $.Release.Name }}{{ end }}",
            "relrel",
        ),
        ("{{ $v := .Values }}{{ $v.nested.inner.v }}", "deep"),
        ("{{ (.Values.nested).inner.v }}", "deep"),
        ("{{ if $x := .Values.s }}{{ $x }}{{ end }}", "abc"),
    ]);
}

#[test]
fn definitions_and_blocks() {
    check_table(&[
        (
            "{{ define \"a\" }}A{{ . }}{{ end }}{{ template \"a\" 1 }}",
            "A1",
        ),
        ("{{ block \"b\" . }}B{{ .Release.Name }}{{ end }}", "Brel"),
        (
            "{{ define \"a\" }}{{ $ }}{{ end }}{{ template \"a\" \"x\" }}",
            "x",
        ),
        (
            "{{ template \"nope\" }}",
            "ERR:template \"nope\" not defined",
        ),
    ]);
}

#[test]
fn builtins() {
    check_table(&[
        (
            "{{ and 1 0 2 }}|{{ or 0 \"\" 3 }}|{{ and 1 2 }}|{{ or 0 false }}",
            "0|3|2|false",
        ),
        ("{{ not 0 }}{{ not 1 }}", "truefalse"),
        (
            "{{ len .Values.l }}{{ len \"héllo\" }}{{ len .Values.m }}",
            "362",
        ),
        (
            "{{ index .Values.l 2 }}{{ index .Values.m \"a\" }}{{ index .Values \"nested\" \"inner\" \"v\" }}",
            "x1deep",
        ),
        ("{{ index .Values.m \"zz\" }}", "<no value>"),
        ("{{ slice .Values.l 1 }}", "[2 x]"),
        (
            "{{ eq 1 1 }}{{ eq \"a\" \"b\" \"a\" }}{{ ne 1 2 }}{{ eq .Values.nul nil }}",
            "truetruetruetrue",
        ),
        (
            "{{ lt 1 2 }}{{ le 2 2 }}{{ gt 3.5 .Values.f }}{{ ge \"b\" \"a\" }}",
            "truetruefalsetrue",
        ),
        (
            "{{ eq .Values.i 3 }}",
            "ERR:incompatible types for comparison: float64 and int",
        ),
        (
            "{{ eq .Values.m 1 }}",
            "ERR:error calling eq: incompatible types for comparison: map[string]interface {} and int",
        ),
        (
            "{{ eq .Values.l .Values.l }}",
            "ERR:non-comparable type [%!s(float64=1) %!s(float64=2) x]: []interface {}",
        ),
        ("{{ eq .Values.missing \"x\" }}", "false"),
        (
            "{{ html \"<a href='x'>&\" }}",
            "&lt;a href=&#39;x&#39;&gt;&amp;",
        ),
        ("{{ js \"a'b<c\" }}", "a\\'b\\u003Cc"),
        ("{{ urlquery \"a b&c=d\" }}", "a+b%26c%3Dd"),
        (
            "{{ printf \"%05.1f|%-4d|%x\" 2.71928 7 \"hi\" }}",
            "002.7|7   |6869",
        ),
        ("{{ \"abc\" | printf \"%s-%s\" \"x\" }}", "x-abc"),
    ]);
}

#[test]
fn errors_read_like_go() {
    check_table(&[
        (
            "{{ .Values.nul.x }}",
            "ERR:template: t:1:10: executing \"t\" at <.Values.nul.x>: nil pointer evaluating interface {}.x",
        ),
        (
            "{{ .Values.missing.x }}",
            "ERR:nil pointer evaluating interface {}.x",
        ),
        (
            "{{ .Values.s.x }}",
            "ERR:can't evaluate field x in type interface {}",
        ),
        (
            "{{ (upper .Values.s).x }}",
            "ERR:can't evaluate field x in type string",
        ),
        ("{{ len 3 }}", "ERR:error calling len: len of type int"),
        (
            "{{ len .Values.nul }}",
            "ERR:error calling len: len of nil pointer",
        ),
        (
            "{{ index .Values.l 5 }}",
            "ERR:error calling index: index out of range: 5",
        ),
        (
            "{{ not }}",
            "ERR:wrong number of args for not: want 1 got 0",
        ),
        (
            "{{ nope }}",
            "ERR:template: t:1: function \"nope\" not defined",
        ),
        ("{{ 1 2 }}", "ERR:can't give argument to non-function 1"),
        (
            "{{ range 1.5 }}{{ end }}",
            "ERR:range can't iterate over 1.5",
        ),
    ]);
}

#[test]
fn missing_key_modes() {
    use driftless_gotemplate::MissingKey;
    assert_eq!(
        common::render_with("{{ .Values.missing.x }}", MissingKey::Default).as_deref(),
        Ok("<no value>")
    );
    let strict = common::render_with("{{ .Values.missing }}", MissingKey::Error).unwrap_err();
    assert!(
        strict.contains("map has no entry for key \"missing\""),
        "{strict}"
    );
}

#[test]
fn go_builtins_without_sprig() {
    use driftless_gotemplate::{TemplateSet, Value};
    let mut set = TemplateSet::new();
    set.parse("t", "{{ slice \"abcdef\" 1 3 }}|{{ slice \"abc\" 1 }}|{{ index \"abc\" 0 }}|{{ slice (index . 0) 0 1 }}")
        .expect("parses");
    let data = Value::list(vec![Value::list(vec![Value::Int(7), Value::Int(8)])]);
    assert_eq!(set.execute("t", &data).as_deref(), Ok("bc|bc|97|[7]"));
    assert!(
        set.parse("u", "{{ upper . }}").is_err(),
        "sprig functions are not builtins"
    );
}

/// Helm's `include` and `tpl`, registered through the public API the way
/// the chart crate does.
fn helm_like_set() -> driftless_gotemplate::TemplateSet {
    use driftless_gotemplate::{Arity, FuncError, TemplateSet, Value};
    let mut funcs = driftless_gotemplate::sprig::functions();
    funcs.add_with_context("include", Arity::Exact(2), |ctx, mut args| {
        let data = args.pop().unwrap_or(Value::Nil);
        let name = driftless_gotemplate::args::string(&args[0])?.to_owned();
        if ctx.active_executions(&name) > 50 {
            return Err(FuncError::new(format!(
                "rendering template has a nested reference name: {name}"
            )));
        }
        Ok(ctx.execute_template(&name, data)?)
    });
    funcs.add_with_context("tpl", Arity::Exact(2), |ctx, mut args| {
        let data = args.pop().unwrap_or(Value::Nil);
        let text = driftless_gotemplate::args::string(&args[0])?.to_owned();
        ctx.execute_text("gotpl", &text, data)
    });
    let mut set = TemplateSet::with_funcs(funcs);
    set.set_name("gotpl");
    set
}

#[test]
fn include_and_tpl_through_the_context() {
    use driftless_gotemplate::Value;
    let mut set = helm_like_set();
    set.parse("_h.tpl", r#"{{ define "name" }}n-{{ . }}{{ end }}{{ define "loop" }}{{ include "loop" . }}{{ end }}"#)
        .expect("parses");
    set.parse(
        "t",
        r#"{{ include "name" "x" | upper }}|{{ tpl "{{ define \"d\" }}D{{ end }}{{ include \"d\" . }}{{ . }}" "v" }}|{{ tpl "" . }}|{{ tpl "{{ include \"name\" 1 }}" . }}"#,
    )
    .expect("parses");
    assert_eq!(set.execute("t", &Value::Nil).as_deref(), Ok("N-X|Dv||n-1"));
    // A definition made inside tpl does not leak into the set.
    assert!(!set.has_template("d"));
    set.parse("r", r#"{{ include "loop" . }}"#).expect("parses");
    let error = set
        .execute("r", &Value::Nil)
        .expect_err("recursion is bounded");
    assert!(
        error
            .to_string()
            .contains("rendering template has a nested reference name: loop"),
        "{error}"
    );
    set.parse("m", r#"{{ include "nope" . }}"#).expect("parses");
    let error = set.execute("m", &Value::Nil).expect_err("no such template");
    assert!(
        error.to_string().ends_with(
            r#"error calling include: template: no template "nope" associated with template "gotpl""#
        ),
        "{error}"
    );
}

#[test]
fn hostile_templates_fail_clearly() {
    use driftless_gotemplate::{Options, TemplateSet, Value};
    let mut set = TemplateSet::new();
    set.parse(
        "t",
        r#"{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}"#,
    )
    .expect("parses");
    let error = set.execute("t", &Value::Nil).expect_err("depth is bounded");
    assert!(
        error
            .to_string()
            .contains("exceeded maximum template depth (10000)"),
        "{error}"
    );
    let deep = format!("{}1{}", "(".repeat(20_000), ")".repeat(20_000));
    let error = TemplateSet::new()
        .parse("p", &format!("{{{{ {deep} }}}}"))
        .expect_err("nesting is bounded");
    assert!(
        error.to_string().contains("max expression depth exceeded"),
        "{error}"
    );
    let nested_ifs = format!(
        "{}x{}",
        "{{ if true }}".repeat(5000),
        "{{ end }}".repeat(5000)
    );
    let mut set = TemplateSet::new();
    set.parse("n", &nested_ifs).expect("deep nesting parses");
    assert_eq!(set.execute("n", &Value::Nil).as_deref(), Ok("x"));
    let mut set = TemplateSet::new();
    set.set_options(Options {
        max_output_bytes: 100,
        ..Options::default()
    });
    set.parse("t", "{{ range 1000 }}xx{{ end }}")
        .expect("parses");
    let error = set
        .execute("t", &Value::Nil)
        .expect_err("output is bounded");
    assert!(
        error
            .to_string()
            .contains("output exceeds the limit of 100 bytes"),
        "{error}"
    );
}

/// A map type with methods, like Helm's `Files`.
#[derive(Debug)]
struct Files(driftless_gotemplate::Map);

impl driftless_gotemplate::Object for Files {
    fn type_name(&self) -> String {
        "common.Files".to_owned()
    }

    fn kind_name(&self) -> &'static str {
        "map"
    }

    fn call_method(
        &self,
        name: &str,
        args: &[driftless_gotemplate::Value],
    ) -> Option<Result<driftless_gotemplate::Value, String>> {
        use driftless_gotemplate::Value;
        match (name, args) {
            ("Get", [Value::String(path)]) => {
                Some(Ok(self.0.get(path).unwrap_or_else(|| Value::string(""))))
            }
            ("Count", []) => Some(Ok(Value::Int(i64::try_from(self.0.len()).unwrap_or(0)))),
            _ => None,
        }
    }

    fn as_collection(&self) -> Option<driftless_gotemplate::Value> {
        Some(driftless_gotemplate::Value::Map(self.0.clone()))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[test]
fn collection_objects_range_index_and_call_methods() {
    use driftless_gotemplate::{Map, TemplateSet, Value};
    let files = Map::new();
    files.insert("a.txt", Value::from("A"));
    files.insert("b.txt", Value::from("B"));
    let mut data = std::collections::BTreeMap::new();
    data.insert("Files".to_owned(), Value::object(Files(files)));
    let mut set = TemplateSet::new();
    set.parse(
        "t",
        r#"{{ range $k, $v := .Files }}{{ $k }}={{ $v }};{{ end }}|{{ .Files.Get "a.txt" }}|{{ index .Files "b.txt" }}|{{ len .Files }}|{{ .Files.Count }}|{{ .Files }}|{{ if .Files }}t{{ end }}"#,
    )
    .expect("parses");
    assert_eq!(
        set.execute("t", &Value::map(data)).as_deref(),
        Ok("a.txt=A;b.txt=B;|A|B|2|2|map[a.txt:A b.txt:B]|t")
    );
}

#[test]
fn template_sets_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<driftless_gotemplate::TemplateSet>();
    assert_send_sync::<driftless_gotemplate::Value>();
    assert_send_sync::<driftless_gotemplate::ExecError>();
}

#[test]
fn collection_objects_are_seen_through_but_are_not_dicts() {
    use driftless_gotemplate::{Map, TemplateSet, Value};
    let values = Map::new();
    values.insert("a.txt", Value::from("A"));
    let mut data = std::collections::BTreeMap::new();
    data.insert("Files".to_owned(), Value::object(Files(values)));
    data.insert("Empty".to_owned(), Value::object(Files(Map::new())));
    let mut set = TemplateSet::with_funcs(driftless_gotemplate::sprig::functions());
    set.parse(
        "t",
        r#"{{ empty .Empty }}|{{ empty .Files }}|{{ toJson .Files }}|{{ default "d" .Empty }}"#,
    )
    .expect("parses");
    assert_eq!(
        set.execute("t", &Value::map(data.clone())).as_deref(),
        Ok(r#"true|false|{"a.txt":"A"}|d"#)
    );
    // A named collection other than a map[string]interface{} (Helm's
    // `.Files` is a map[string][]byte) is no dict to Sprig: Helm refuses
    // `hasKey .Files "a.txt"`.
    set.parse("dict", r#"{{ hasKey .Files "a.txt" }}"#)
        .expect("parses");
    let error = set
        .execute("dict", &Value::map(data))
        .expect_err("not a dict")
        .to_string();
    assert!(
        error.ends_with("wrong type for value; expected map[string]interface {}; got common.Files"),
        "{error}"
    );
}

#[test]
fn self_containing_dicts_do_not_crash() {
    common::check_table(&[
        (
            r#"{{ $d := dict "a" 1 }}{{ $_ := set $d "self" $d }}{{ len (printf "%v" $d) | lt 100 }}"#,
            "true",
        ),
        (
            r#"{{ $d := dict }}{{ $_ := set $d "self" $d }}{{ mustToJson $d }}"#,
            "ERR:json: unsupported value: encountered a cycle via map[string]interface {}",
        ),
        (
            r#"{{ $d := dict }}{{ $_ := set $d "self" $d }}{{ $c := deepCopy $d }}{{ deepEqual $c $d }}{{ merge (dict) $d | len }}"#,
            "true1",
        ),
    ]);
}

#[test]
fn counted_ranges_are_not_materialised() {
    common::check_table(&[
        (
            "{{ range $i := 100000000 }}{{ if eq $i 3 }}{{ break }}{{ end }}{{ $i }}{{ end }}",
            "012",
        ),
        ("{{ range 0 }}x{{ else }}none{{ end }}", "none"),
        (
            "{{ until 2000000 | len }}",
            "ERR:a range of more than 1000000 elements is refused",
        ),
    ]);
}

#[test]
fn named_map_types_report_interface_elements() {
    use driftless_gotemplate::{Map, TemplateSet, Value};
    let values = Map::new();
    values.insert("s", Value::from("abc"));
    let mut data = std::collections::BTreeMap::new();
    data.insert("Values".to_owned(), Value::object(Files(values)));
    let mut set = TemplateSet::new();
    set.parse("t", "{{ .Values.s }}{{ .Values.missing }}{{ .Values.s.x }}")
        .expect("parses");
    let error = set
        .execute("t", &Value::map(data))
        .expect_err("a string has no fields");
    assert!(
        error
            .to_string()
            .ends_with("can't evaluate field x in type interface {}"),
        "{error}"
    );
}

#[test]
fn named_maps_act_as_their_map() {
    use driftless_gotemplate::{Map, NamedMap, TemplateSet, Value};
    let values = Map::new();
    values.insert("a", Value::Float(1.0));
    let mut set = TemplateSet::with_funcs(driftless_gotemplate::sprig::functions());
    set.parse("t", r#"{{ typeOf . }}|{{ kindOf . }}|{{ .a }}|{{ .b }}|{{ . }}|{{ hasKey . "a" }}|{{ range $k, $v := . }}{{ $k }}{{ end }}"#)
        .expect("parses");
    let data = Value::object(NamedMap::new("common.Values", values));
    assert_eq!(
        set.execute("t", &data).as_deref(),
        Ok("common.Values|map|1|<no value>|map[a:1]|true|a")
    );
}
