//! Cases whose expected output was produced by the real `helm template`
//! (Helm v4.3.1) on a throwaway chart with the values of `common::data()`;
//! Helm replaces `<no value>` with the empty string, so the comparison does
//! too. An `ERR:` expectation is the tail of Helm's error message.

mod common;

use common::check_helm_table;

#[test]
fn sprig_and_builtins_match_helm() {
    check_helm_table(&[
        (
            r#"{{ .Values.big }}|{{ .Values.f }}|{{ .Values.nul }}|{{ .Values.missing }}"#,
            r#"1e+06|3.5||"#,
        ),
        (
            r#"{{ range $x := "" }}{{ end }}"#,
            r#"ERR:range can't iterate over"#,
        ),
        (
            r#"{{ trunc 3 "abcdef" }}|{{ trunc -2 "abcdef" }}|{{ trunc 10 "ab" }}"#,
            r#"abc|ef|ab"#,
        ),
        (
            r#"{{ trunc .Values.i "abcdef" }}"#,
            r#"ERR:wrong type for value; expected int; got float64"#,
        ),
        (r#"{{ trunc (int .Values.i) "abcdef" }}"#, r#"abc"#),
        (
            r#"{{ quote "a" 1 nil .Values.f }}|{{ squote "a" 2 }}|{{ cat "a" nil 1 .Values.l }}"#,
            r#""a" "1" "3.5"|'a' '2'|a 1 [1 2 x]"#,
        ),
        (
            r#"{{ default "d" .Values.empty }}|{{ default "d" .Values.zero }}|{{ default "d" .Values.missing }}|{{ default "d" .Values.s }}|{{ .Values.nul | default "x" }}"#,
            r#"d|d|d|abc|x"#,
        ),
        (
            r#"{{ empty .Values.m }}|{{ empty (dict) }}|{{ empty (list) }}|{{ empty 0.0 }}|{{ empty false }}"#,
            r#"false|true|true|true|true"#,
        ),
        (
            r#"{{ add 1 2 }}|{{ add 1.5 2 }}|{{ add .Values.f 1 }}|{{ typeOf (add 1 2) }}|{{ sub 5 .Values.i }}|{{ mul 2 3 4 }}|{{ div 7 2 }}|{{ mod 7 2 }}"#,
            r#"3|3|4|int64|2|24|3|1"#,
        ),
        (
            r#"{{ div 1 0 }}"#,
            r#"ERR:error calling div: runtime error: integer divide by zero"#,
        ),
        (
            r#"{{ addf 0.1 0.2 }}|{{ subf 1 0.9 }}|{{ mulf 1.1 1.1 }}|{{ divf 10 3 }}|{{ add1f 1.5 }}|{{ maxf 1 2.5 }}|{{ minf 1 2.5 }}"#,
            r#"0.3|0.1|1.21|3.3333333333333335|2.5|2.5|1"#,
        ),
        (
            r#"{{ max 1 5 3 }}|{{ min 4 2 8 }}|{{ biggest 1 9 }}|{{ floor 1.7 }}|{{ ceil 1.2 }}|{{ round 3.14159 2 }}|{{ round 2.5 0 }}"#,
            r#"5|2|9|1|2|3.14|3"#,
        ),
        (
            r#"{{ int 3.9 }}|{{ int "12" }}|{{ int "1.5" }}|{{ int64 "0x10" }}|{{ float64 "1.5" }}|{{ int "10.0" }}|{{ atoi "42" }}|{{ atoi "x" }}|{{ typeOf (int 1) }}|{{ typeOf (int64 1) }}|{{ toDecimal "0777" }}"#,
            r#"3|12|0|16|1.5|10|42|0|int|int64|511"#,
        ),
        (
            r#"{{ upper "abc" }}|{{ lower "ABC" }}|{{ title "hello world" }}|{{ untitle "Hello" }}|{{ repeat 3 "ab" }}|{{ substr 1 3 "abcdef" }}|{{ nospace "a b  c" }}|{{ initials "First Try" }}"#,
            r#"ABC|abc|Hello World|hello|ababab|bc|abc|FT"#,
        ),
        (
            r#"{{ trim "  a  " }}|{{ trimAll "$" "$$a$" }}|{{ trimSuffix ".yaml" "a.yaml" }}|{{ trimPrefix "v" "v1.2" }}|{{ contains "b" "abc" }}|{{ hasPrefix "a" "abc" }}|{{ hasSuffix "c" "abc" }}"#,
            r#"a|a|a|1.2|true|true|true"#,
        ),
        (
            r#"{{ indent 2 "a\nb" }}|{{ nindent 2 "a" }}|{{ replace "a" "b" "aaa" }}|{{ plural "one" "many" 2 }}|{{ wrap 5 "hello world foo" }}|{{ wrapWith 5 "\t" "hello world" }}"#,
            r#"  a
  b|
  a|bbb|many|hello
world
foo|hello	world"#,
        ),
        (
            r#"{{ split "$" "a$b$c" }}|{{ (split "$" "a$b")._1 }}|{{ splitList "," "a,b" }}|{{ splitn "$" 2 "a$b$c" }}|{{ join "-" .Values.l }}|{{ join "," (list "a" nil "b") }}|{{ sortAlpha (list "b" "a" 1) }}|{{ toStrings (list 1 "a" nil) }}"#,
            r#"map[_0:a _1:b _2:c]|b|[a b]|map[_0:a _1:b$c]|1-2-x|a,b|[1 a b]|[1 a]"#,
        ),
        (
            r#"{{ list 1 "a" nil }}|{{ first .Values.l }}|{{ last .Values.l }}|{{ rest .Values.l }}|{{ initial .Values.l }}|{{ append .Values.l 4 }}|{{ prepend .Values.l 0 }}|{{ reverse .Values.l }}|{{ uniq (list 1 1 2) }}|{{ without (list 1 2 3) 2 }}|{{ has 2 (list 1 2) }}|{{ has 2.0 .Values.l }}|{{ compact (list 1 "" 0 nil 2) }}"#,
            r#"[1 a <nil>]|1|x|[2 x]|[1 2]|[1 2 x 4]|[0 1 2 x]|[x 2 1]|[1 2]|[1 3]|true|true|[1 2]"#,
        ),
        (
            r#"{{ slice .Values.l 1 }}|{{ slice .Values.l 1 2 }}|{{ concat (list 1) (list 2 3) }}|{{ chunk 2 (list 1 2 3) }}|{{ until 3 }}|{{ untilStep 0 10 3 }}|{{ seq 3 }}|{{ seq 1 2 7 }}|{{ typeOf (until 2) }}"#,
            r#"[2 x]|[2]|[1 2 3]|[[1 2] [3]]|[0 1 2]|[0 3 6 9]|1 2 3|1 3 5 7|[]int"#,
        ),
        (
            r#"{{ first nil }}"#,
            r#"ERR:error calling first: runtime error: invalid memory address or nil pointer dereference"#,
        ),
        (
            r#"{{ slice "abc" 1 }}"#,
            r#"ERR:error calling slice: list should be type of slice or array but string"#,
        ),
        (
            r#"{{ $d := dict "a" 1 "b" }}{{ $d }}|{{ get $d "a" }}|{{ get $d "z" }}|{{ $_ := set $d "c" 3 }}{{ $d }}|{{ unset $d "a" }}|{{ hasKey $d "b" }}|{{ keys $d | sortAlpha }}|{{ values (dict "a" 1) }}|{{ pick (dict "a" 1 "b" 2) "a" }}|{{ omit (dict "a" 1 "b" 2) "a" }}|{{ pluck "a" (dict "a" 1) (dict "a" 2) (dict) }}"#,
            r#"map[a:1 b:]|1||map[a:1 b: c:3]|map[b: c:3]|true|[b c]|[1]|map[a:1]|map[b:2]|[1 2]"#,
        ),
        (
            r#"{{ merge (dict "a" 1 "n" (dict "x" 1)) (dict "a" 2 "b" 2 "n" (dict "y" 2)) }}|{{ mergeOverwrite (dict "a" 1 "n" (dict "x" 1)) (dict "a" 2 "b" "" "n" (dict "y" 2)) }}|{{ dig "a" "b" "def" (dict "a" (dict "b" 5)) }}|{{ dig "a" "z" "def" (dict "a" (dict)) }}"#,
            r#"map[a:1 b:2 n:map[x:1 y:2]]|map[a:2 b: n:map[x:1 y:2]]|5|def"#,
        ),
        (
            r#"{{ coalesce nil "" 0 "x" }}|{{ all 1 "a" }}|{{ all 1 "" }}|{{ any 0 "" "a" }}|{{ ternary "y" "n" true }}|{{ ternary "y" "n" false }}"#,
            r#"x|true|false|true|y|n"#,
        ),
        (
            r#"{{ toJson .Values }}|{{ toJson "<a&b>" }}|{{ toRawJson (dict "a" "<b>") }}|{{ fromJson "{\"a\": 1}" }}|{{ toJson 1e-7 }}|{{ toJson 1e21 }}"#,
            r#"{"big":1000000,"empty":"","f":3.5,"i":3,"l":[1,2,"x"],"m":{"a":1,"b":2},"nested":{"inner":{"v":"deep"}},"s":"abc","t":true,"zero":0}|"\u003ca\u0026b\u003e"|{"a":"<b>"}|map[a:1]|1e-7|1e+21"#,
        ),
        (
            r#"{{ toPrettyJson (dict "a" (list 1 2) "b" (dict)) }}"#,
            r#"{
  "a": [
    1,
    2
  ],
  "b": {}
}"#,
        ),
        (
            r#"{{ typeOf 1 }}|{{ typeOf 1.5 }}|{{ typeOf "s" }}|{{ typeOf .Values.l }}|{{ typeOf .Values.m }}|{{ typeOf nil }}|{{ typeOf (splitList "," "a") }}|{{ typeOf (split "," "a") }}|{{ kindOf 1 }}|{{ kindOf .Values.l }}|{{ kindOf .Values.m }}|{{ kindOf nil }}|{{ kindIs "map" .Values.m }}|{{ typeIs "float64" .Values.f }}|{{ typeIsLike "string" "a" }}|{{ deepEqual (list 1) (list 1) }}"#,
            r#"int|float64|string|[]interface {}|map[string]interface {}|<nil>|[]string|map[string]string|int|slice|map|invalid|true|true|true|true"#,
        ),
        (
            r#"{{ regexMatch "^a.c$" "abc" }}|{{ regexFind "[0-9]+" "ab123cd45" }}|{{ regexFindAll "[0-9]+" "ab123cd45" -1 }}|{{ regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W" }}|{{ regexReplaceAllLiteral "a(x*)b" "-ab-" "${1}" }}|{{ regexSplit "a" "banana" -1 }}|{{ regexQuoteMeta "a.b" }}"#,
            r#"true|123|[123 45]|-W-xxW-|-${1}-|[b n n ]|a\.b"#,
        ),
        (r#"{{ regexMatch "(" "a" }}"#, r#"false"#),
        (
            r#"{{ mustRegexMatch "(" "a" }}"#,
            r#"ERR:error calling mustRegexMatch: error parsing regexp:"#,
        ),
        (
            r#"{{ b64enc "hello" }}|{{ b64dec "aGVsbG8=" }}|{{ b64dec "!!" }}|{{ b32enc "hi" }}|{{ b32dec "NBUQ====" }}"#,
            r#"aGVsbG8=|hello|illegal base64 data at input byte 0|NBUQ====|hi"#,
        ),
        (
            r#"{{ base "/a/b.txt" }}|{{ dir "/a/b.txt" }}|{{ ext "a.tar.gz" }}|{{ clean "a//b/../c" }}|{{ isAbs "/a" }}|{{ osBase "a/b" }}"#,
            r#"b.txt|/a|.gz|a/c|true|b"#,
        ),
        (
            r#"{{ sha1sum "abc" }}|{{ sha256sum "abc" }}|{{ adler32sum "abc" }}"#,
            r#"a9993e364706816aba3e25717850c26c9cd0d89d|ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad|38600999"#,
        ),
        (
            r#"{{ printf "%v|%d|%s|%q|%5.2f|%x|%T" .Values.m 5 .Values.l "q" 3.14159 255 .Values.f }}"#,
            r#"map[a:1 b:2]|5|[%!s(float64=1) %!s(float64=2) x]|"q"| 3.14|ff|float64"#,
        ),
        (
            r#"{{ printf "%d" .Values.f }}|{{ printf "%s %s" "a" }}|{{ printf "%s" "a" "b" }}|{{ printf "%v" nil }}|{{ printf "%s" .Values.nul }}"#,
            r#"%!d(float64=3.5)|a %!s(MISSING)|a%!(EXTRA string=b)|<nil>|%!s(<nil>)"#,
        ),
        (
            r#"{{ .Values.m.a | printf "%v" }}|{{ print 1 2 }}|{{ print "a" "b" }}|{{ print .Values.l }}|{{ println "x" }}"#,
            r#"1|1 2|ab|[1 2 x]|x
"#,
        ),
        (
            r#"{{ html "<a>" }}|{{ js "a'b=c&d<e>" }}|{{ urlquery "a b/c" }}|{{ len .Values.l }}|{{ index .Values.m "a" }}|{{ index .Values.l 1 }}"#,
            r#"&lt;a&gt;|a\'b\u003Dc\u0026d\u003Ce\u003E|a+b%2Fc|3|1|2"#,
        ),
        (
            r#"{{ eq 1 1.0 }}"#,
            r#"ERR:error calling eq: incompatible types for comparison: int and float64"#,
        ),
        (
            r#"{{ gt .Values.i 1 }}"#,
            r#"ERR:error calling gt: incompatible types for comparison: float64 and int"#,
        ),
        (
            r#"{{ lt 1 2 }}|{{ eq "a" "a" }}|{{ ne 1 2 }}|{{ eq .Values.nul nil }}|{{ and 1 0 }}|{{ or 0 "x" }}|{{ not .Values.t }}"#,
            r#"true|true|true|true|0|x|false"#,
        ),
        (
            r#"{{ upper .Values.missing }}"#,
            r#"ERR:wrong type for value; expected string; got interface {}"#,
        ),
        (
            r#"{{ .Values.missing.x }}"#,
            r#"ERR:nil pointer evaluating interface {}.x"#,
        ),
        (
            r#"{{ index .Values.missing "x" }}"#,
            r#"ERR:error calling index: index of untyped nil"#,
        ),
        (
            r#"{{ $x := 1 }}{{ range $i, $v := .Values.l }}{{ $x = $i }}{{ end }}{{ $x }}"#,
            r#"2"#,
        ),
        (r#"{{ fail "boom" }}"#, r#"ERR:error calling fail: boom"#),
    ]);
}
