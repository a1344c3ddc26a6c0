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

#[test]
fn more_sprig_and_printf_match_helm() {
    check_helm_table(&[
        (
            r#"{{ snakecase "FirstName" }}|{{ snakecase "HTTPServer" }}|{{ snakecase "already_snake" }}|{{ snakecase "with space" }}|{{ snakecase "Abc123Def" }}|{{ snakecase "a1b2" }}|{{ snakecase "foo-bar" }}|{{ snakecase "ID" }}|{{ snakecase "fooBar2Baz" }}|{{ snakecase "v1.2.3" }}"#,
            r#"first_name|http_server|already_snake|with_space|abc123_def|a_1b2|foo_bar|id|foo_bar2_baz|v1.2.3"#,
        ),
        (
            r#"{{ kebabcase "FirstName" }}|{{ kebabcase "myHTTPServer" }}|{{ kebabcase "foo_bar" }}|{{ kebabcase "Foo Bar" }}"#,
            r#"first-name|my-http-server|foo-bar|foo-bar"#,
        ),
        (
            r#"{{ camelcase "http_server" }}|{{ camelcase "hello world" }}|{{ camelcase "HTTP_SERVER" }}|{{ camelcase "foo-bar_baz" }}|{{ camelcase "FooBar" }}|{{ camelcase "ABC" }}|{{ camelcase "_foo" }}|{{ camelcase "a" }}|{{ camelcase "fooBAR" }}"#,
            r#"HttpServer|HelloWorld|HttpServer|FooBarBaz|FooBar|Abc|_Foo|A|FooBAR"#,
        ),
        (
            r#"{{ semver "1.2.3-beta.1+build" }}|{{ (semver "1.2.3").Major }}|{{ typeOf (semver "1.2.3") }}|{{ (semver "v1.2").Original }}|{{ (semver "1.2.3").IncMinor }}|{{ (semver "1.2.3-rc1").Prerelease }}"#,
            r#"1.2.3-beta.1+build|1|*semver.Version|v1.2|1.3.0|rc1"#,
        ),
        (
            r#"{{ semverCompare ">=1.2.0" "1.3.0" }}|{{ semverCompare "^1.2" "2.0.0" }}|{{ semverCompare "~1.2" "1.2.9" }}|{{ semverCompare "1.x" "1.9.0-alpha" }}|{{ semverCompare ">=1.20.0-0" "1.33.0" }}|{{ semverCompare ">=1.20.0" "1.33.0-eks.1" }}|{{ semverCompare ">=1.20.0-0" "v1.33.0-eks.1" }}|{{ semverCompare "<1.0 || >=2.1" "2.1.0" }}|{{ semverCompare "1.1 - 2" "2.0.5" }}|{{ semverCompare "!=1.2.x" "1.2.5" }}|{{ semverCompare ">1.2.x" "1.2.9" }}|{{ semverCompare "^0.2.3" "0.3.0" }}"#,
            r#"true|false|true|false|true|false|true|true|true|false|false|false"#,
        ),
        (
            r#"{{ semverCompare "foo" "1.0.0" }}"#,
            r#"ERR:error calling semverCompare: improper constraint: "foo""#,
        ),
        (
            r#"{{ semverCompare ">1" "x" }}"#,
            r#"ERR:error calling semverCompare: invalid semantic version"#,
        ),
        (
            r#"{{ date "2006-01-02" (toDate "2006-01-02" "2020-03-04") }}|{{ toDate "2006-01-02" "2020-03-04" }}|{{ dateInZone "2006-01-02 15:04 MST" (toDate "2006-01-02" "2020-03-04") "UTC" }}|{{ unixEpoch (toDate "2006-01-02" "2020-03-04") }}|{{ duration 95 }}|{{ duration "95" }}|{{ duration (int64 3700) }}|{{ durationRound "2h10m" }}|{{ durationRound "3600s" }}"#,
            r#"2020-03-04|2020-03-04 00:00:00 +0000 UTC|2020-03-04 00:00 UTC|1583280000|0s|1m35s|1h1m40s|2h|60m"#,
        ),
        (
            r#"{{ toDate "2006-01-02" "bad" }}|{{ date "Mon Jan _2 3:04PM 06 -0700 MST .000" (toDate "2006-01-02 15:04:05" "2020-03-04 17:05:09") }}|{{ dateModify "1h30m" (toDate "2006-01-02" "2020-03-04") }}|{{ date "2006" 0 }}|{{ htmlDate (toDate "2006-01-02" "2020-03-04") }}|{{ typeOf now }}|{{ (toDate "2006-01-02" "2020-03-04").Year }}|{{ toJson (toDate "2006-01-02" "2020-03-04") }}"#,
            r#"0001-01-01 00:00:00 +0000 UTC|Wed Mar  4 5:05PM 20 +0000 UTC .000|2020-03-04 01:30:00 +0000 UTC|1970|2020-03-04|time.Time|2020|"2020-03-04T00:00:00Z""#,
        ),
        (
            r#"{{ mustToDate "2006-01-02" "bad" }}"#,
            r#"ERR:error calling mustToDate: parsing time "bad" as "2006-01-02": cannot parse "bad" as "2006""#,
        ),
        (
            r#"{{ urlParse "https://u:p@host:8080/a%20b?q=1#frag" }}|{{ urlJoin (dict "scheme" "https" "host" "h" "path" "/p q" "query" "a=1" "fragment" "f g") }}|{{ urlParse "mailto:a@b" }}"#,
            r#"map[fragment:frag host:host:8080 hostname:host opaque: path:/a b query:q=1 scheme:https userinfo:u:p]|https://h/p%20q?a=1#f%20g|map[fragment: host: hostname: opaque:a@b path: query: scheme:mailto userinfo:]"#,
        ),
        (
            r#"{{ wrap 5 "hello world foo" }}|{{ wrap 3 "abcdefgh ij" }}|{{ wrapWith 4 "|" "abcdefgh ij" }}|{{ abbrevboth 5 10 "1234 5678 9123" }}|{{ abbrev 3 "hello" }}|{{ initials "hello  big   world" }}|{{ swapcase "Hello World ǆ" }}|{{ title "hello_world foo-bar" }}"#,
            r#"hello
world
foo|abcdefgh
ij|abcd|efgh|ij|...5678...|hello|hbw|hELLO wORLD ǅ|Hello_world Foo-Bar"#,
        ),
        (
            r#"{{ toString 1.5 }}|{{ toString .Values.l }}|{{ toString nil }}|{{ toStrings "a" }}|{{ join "," "a" }}|{{ join "," nil }}|{{ sortAlpha "b" }}"#,
            r#"1.5|[1 2 x]|<nil>|[a]|a||[b]"#,
        ),
        (
            r#"{{ substr 0 10 "abc" }}|{{ substr -1 2 "abc" }}|{{ substr 2 1 "abc" }}"#,
            r#"ERR:error calling substr: runtime error: slice bounds out of range [2:1]"#,
        ),
        (
            r#"{{ repeat -1 "a" }}"#,
            r#"ERR:error calling repeat: strings: negative Repeat count"#,
        ),
        (
            r#"{{ indent 2 "" }}|{{ nindent 0 "x" }}|{{ trunc 0 "abc" }}|{{ trunc -5 "abc" }}|{{ quote }}|{{ squote nil }}|{{ cat }}"#,
            r#"  |
x||abc|||"#,
        ),
        (
            r#"{{ list }}|{{ rest (list) }}|{{ first (list) }}|{{ last (list) }}|{{ initial (list) }}|{{ slice (list) }}|{{ concat }}|{{ uniq (list 1 1.0 "1") }}|{{ reverse (list) }}|{{ compact (list) }}"#,
            r#"[]|[]|||[]||[]|[1 1 1]|[]|[]"#,
        ),
        (
            r#"{{ dict "a" }}|{{ dict 1 2 }}|{{ get nil "a" }}|{{ hasKey nil "a" }}|{{ keys (dict "b" 1 "a" 2) | sortAlpha }}|{{ values (dict "b" 1 "a" 2) | sortAlpha }}|{{ omit (dict "a" 1) }}|{{ deepCopy (dict "a" (list 1)) }}"#,
            r#"map[a:]|map[1:2]||false|[a b]|[1 2]|map[a:1]|map[a:[1]]"#,
        ),
        (
            r#"{{ set nil "a" 1 }}"#,
            r#"ERR:error calling set: assignment to entry in nil map"#,
        ),
        (r#"{{ merge (dict) nil }}"#, r#"map[]"#),
        (
            r#"{{ mustFromJson "bad" }}"#,
            r#"ERR:error calling mustFromJson:"#,
        ),
        (
            r#"{{ regexFindAll "a" "banana" 2 }}|{{ regexFindAll "x*" "ab" -1 }}|{{ regexSplit "" "abc" -1 }}|{{ regexSplit "a" "banana" 0 }}|{{ regexReplaceAll "\\d" "a1b٣" "X" }}|{{ regexMatch "^\\w+$" "é" }}|{{ regexReplaceAll "(?P<x>a)" "ba" "<$x>" }}|{{ regexReplaceAll "a" "aa" "$1W" }}"#,
            r#"[a a]|[  ]|[a b c]|[]|aXb٣|false|b<a>|"#,
        ),
        (
            r#"{{ regexFind "(" "a" }}"#,
            r#"ERR:error calling regexFind: regexp: Compile(`(`): error parsing regexp:"#,
        ),
        (
            r#"{{ printf "%5s|%-5s|%05d|%+d|%x|%X|%o|%b|%e|%E|%g|%G|%.3g|%8.3f|%c|%U|%#U|%q|%#x|%t|%v" "ab" "ab" 42 3 "hi" 255 8 5 1234.5678 1234.5678 1234.5678 1e-10 3.14159 3.14159 65 65 65 'x' 255 true .Values.t }}"#,
            r#"   ab|ab   |00042|+3|6869|FF|10|101|1.234568e+03|1.234568E+03|1234.5678|1E-10|3.14|   3.142|A|U+0041|U+0041 'A'|'x'|0xff|true|true"#,
        ),
        (
            r#"{{ printf "%[2]d %[1]d|%*d|%-*d|%.*f|%3c|%-4q|%T|%T|%T|%v|%d" 1 2 5 42 5 42 2 3.14159 65 "a" .Values.l .Values.m nil (list 1 "a") (list 1 2) }}"#,
            r#"2 1| 5|5                                         |%!f(int=000000000000000000000000000000000000000002)|%!c(float64=3.14159)|'A' |string|[]interface {}|map[string]interface {}|<nil>|[1 %!d(string=a)]"#,
        ),
        (
            r#"{{ printf "%!" }}|{{ printf "%z" 1 }}|{{ printf "%d %d" 1 }}|{{ printf "%" }}|{{ printf "%.2s" "abc" }}|{{ printf "%x" .Values.f }}|{{ printf "%d" true }}|{{ printf "%s" 5 }}|{{ printf "%[5]d" 1 }}"#,
            r#"%!!(MISSING)|%!z(int=1)|1 %!d(MISSING)|%!(NOVERB)|ab|0x1.cp+01|%!d(bool=true)|%!s(int=5)|%!d(BADINDEX)"#,
        ),
        (
            r#"{{ printf "%v %v %v %v %v %v" 1e20 1e21 123456789.0 0.000001 0.0000001 -0.0 }}|{{ 1e20 }}|{{ 100000000000000000000.0 }}|{{ printf "%v" 0.1 }}|{{ float64 1 }}|{{ divf 1 3 }}"#,
            r#"1e+20 1e+21 1.23456789e+08 1e-06 1e-07 -0|1e+20|1e+20|0.1|1|0.3333333333333333"#,
        ),
        (
            r#"{{ printf "%6.2v|%.0f|%.1f|%.1f|%5.1e|%g|%g" 3.14159 2.5 0.25 0.35 123456.0 100000.0 1000000.0 }}"#,
            r#"   3.1|2|0.2|0.3|1.2e+05|100000|1e+06"#,
        ),
    ]);
}

#[test]
fn language_edge_cases_match_helm() {
    check_helm_table(&[
        (
            r#"a
  {{- /* c */}}
  b {{- "x" -}} 
 c
{{ "y" }}  
  {{- "z" }}"#,
            r#"a
  bxc
yz"#,
        ),
        (
            r#"{{ range $k, $v := .Values.m }}{{ $k }}{{ $v }}{{ else }}none{{ end }}|{{ range $i, $e := .Values.l }}{{ if $i }},{{ end }}{{ $e }}{{ end }}"#,
            r#"a1b2|1,2,x"#,
        ),
        (
            r#"{{ $x := . }}{{ range .Values.l }}{{ $x.Values.s }}{{ end }}|{{ with $y := .Values.s }}{{ $y }}{{ . }}{{ end }}"#,
            r#"abcabcabc|abcabc"#,
        ),
        (
            r#"{{ dict "a" nil }}|{{ printf "%v" (dict "a" (list 1 (dict "b" nil))) }}|{{ .Values.m.a | int | printf "%05d" }}|{{ index .Values.l 0 | add 1 }}"#,
            r#"map[a:<nil>]|map[a:[1 map[b:<nil>]]]|00001|2"#,
        ),
        (
            r#"{{ or .Values.missing "d" }}|{{ and .Values.t .Values.s }}|{{ not .Values.missing }}|{{ eq .Values.s "x" "abc" }}|{{ (list 1 2) | len }}|{{ len (dict) }}|{{ (dict "a" (dict "b" 1)).a.b }}"#,
            r#"d|abc|true|true|2|0|1"#,
        ),
        (
            r#"{{ (dict).x.y }}"#,
            r#"ERR:nil pointer evaluating interface {}.y"#,
        ),
        (
            r#"{{ "\u00e9\x41" }}|{{ '\n' }}|{{ 'é' }}|{{ toString 1e6 }}|{{ 1e6 | toString }}|{{ int64 1e6 }}|{{ float64 "1e6" }}|{{ .Values.big | int }}|{{ mul .Values.f 2 }}|{{ 3 | sub 10 }}"#,
            r#"éA|10|233|1e+06|1e+06|1000000|1e+06|1000000|6|7"#,
        ),
        (
            r#"{{ define "a" }}A{{ end }}{{ define "a" }}B{{ end }}"#,
            r#"ERR:multiple definition of template "a""#,
        ),
        (r#"{{ if }}"#, r#"ERR:missing value for if"#),
        (r#"{{ range }}{{ end }}"#, r#"ERR:missing value for range"#),
        (r#"{{ end }}"#, r#"ERR:unexpected {{end}}"#),
        (r#"{{ else }}"#, r#"ERR:unexpected {{else}}"#),
        (r#"{{ $x }}"#, r#"ERR:undefined variable "$x""#),
        (r#"{{ nofunc 1 }}"#, r#"ERR:function "nofunc" not defined"#),
        (
            r#"{{ . | 1 }}"#,
            r#"ERR:non executable command in pipeline stage 2"#,
        ),
        (
            r#"{{ "unterminated }}"#,
            r#"ERR:unterminated quoted string"#,
        ),
        (
            r#"{{ 1 2 }}"#,
            r#"ERR:can't give argument to non-function 1"#,
        ),
        (
            r#"{{ template "nope" }}"#,
            r#"ERR:template "nope" not defined"#,
        ),
        (
            r#"{{ .Values.s.foo }}"#,
            r#"ERR:can't evaluate field foo in type interface {}"#,
        ),
        (
            r#"{{ index .Values.l 10 }}"#,
            r#"ERR:error calling index: index out of range: 10"#,
        ),
        (
            r#"{{ index .Values.m 1 }}"#,
            r#"ERR:error calling index: value has type int; should be string"#,
        ),
        (
            r#"{{ len 5 }}"#,
            r#"ERR:error calling len: len of type int"#,
        ),
        (
            r#"{{ .Values.s | upper | lower | title }}|{{ "a b" | replace " " "-" }}|{{ list 3 1 2 | sortAlpha }}"#,
            r#"Abc|a-b|[1 2 3]"#,
        ),
        (
            r#"{{ range $i := until 3 }}{{ $i }}{{ end }}|{{ range until 0 }}x{{ else }}empty{{ end }}"#,
            r#"012|empty"#,
        ),
        (
            r#"{{ with .Values.missing }}a{{ else with .Values.zero }}b{{ else }}c{{ end }}"#,
            r#"c"#,
        ),
        (
            r#"{{ if and (hasKey .Values "s") (eq .Values.s "abc") }}yes{{ end }}|{{ if or (not .Values.t) .Values.missing }}x{{ else }}y{{ end }}"#,
            r#"yes|y"#,
        ),
        (
            r#"{{ printf "%s" (list "a" 1) }}|{{ print (list) (dict) }}|{{ print "" }}|{{ print nil nil }}|{{ print 1 nil "a" nil }}"#,
            r#"[a %!s(int=1)]|[] map[]||<nil> <nil>|1 <nil>a<nil>"#,
        ),
        (
            r#"{{ .Values.nested.inner }}|{{ .Values.nested }}|{{ list .Values.nested }}"#,
            r#"map[v:deep]|map[inner:map[v:deep]]|[map[inner:map[v:deep]]]"#,
        ),
        (
            r#"{{ $d := dict }}{{ $_ := set $d "k" "v" }}{{ $d.k }}|{{ $l := list }}{{ $l = append $l 1 }}{{ $l = append $l 2 }}{{ $l }}"#,
            r#"v|[1 2]"#,
        ),
        (
            r#"{{ 0x1p4 }}|{{ 1_000 }}|{{ 0o17 }}|{{ 0b101 }}|{{ +5 }}|{{ 1e-3 }}|{{ .5 }}"#,
            r#"16|1000|15|5|5|0.001|0.5"#,
        ),
        (
            r#"{{- range $x := list 1 2 3 }}{{- if eq $x 2 }}{{- continue }}{{- end }}{{ $x }}{{- end }}"#,
            r#"13"#,
        ),
        (
            r#"{{ $a := 1 }}{{ with $a }}{{ $a = 2 }}{{ end }}{{ $a }}|{{ range list 1 }}{{ $b := 3 }}{{ end }}"#,
            r#"2|"#,
        ),
        (
            r#"{{ define "x" }}[{{ . }}|{{ $ }}]{{ end }}{{ template "x" }}|{{ template "x" 5 }}"#,
            r#"[|]|[5|5]"#,
        ),
    ]);
}

#[test]
fn fmt_verbs_match_helm() {
    check_helm_table(&[
        (
            r#"{{ printf "%v|%d|%s" (int64 5) (int64 -3) (toString (int64 7)) }}|{{ quote 1.5 }}|{{ quote .Values.big }}|{{ printf "%05.1f|%x|%X|%q|%U" -2.25 -255 -255 65 128512 }}"#,
            r#"5|-3|7|"1.5"|"1e+06"|-02.2|-ff|-FF|'A'|U+1F600"#,
        ),
        (
            r#"{{ printf "%e|%.0e|%g|%8.3e|% d|%+.2e|%#o|%#b|%#X" 0.0 15.0 1e100 123.456 5 -0.000123 8 5 255 }}"#,
            r#"0.000000e+00|2e+01|1e+100|1.235e+02| 5|-1.23e-04|010|0b101|0XFF"#,
        ),
        (
            r#"{{ printf "%#v|%#v|%#v|%#v|%#v|%#v" "abc" 3 3.0 true nil (list 1 "a") }}"#,
            r#""abc"|3|3|true|<nil>|[]interface {}{1, "a"}"#,
        ),
        (
            r#"{{ printf "%#v|%#v" (dict "a" 1) 1e6 }}"#,
            r#"map[string]interface {}{"a":1}|1e+06"#,
        ),
        (
            r#"{{ printf "%+v|%+q|%#q|%x|% x|%#x" (dict "a" 1) "é" "a" "abc" "abc" "abc" }}"#,
            r#"map[a:1]|"\u00e9"|`a`|616263|61 62 63|0x616263"#,
        ),
        (
            r#"{{ printf "%t|%t|%v" 1 "x" (list true false) }}"#,
            r#"%!t(int=1)|%!t(string=x)|[true false]"#,
        ),
        (
            r#"{{ printf "%6.2f|%-8.3f|%+d|%08.3f|%-08d|%x" 1.0 2.0 0 -3.14159 5 (list 10 11) }}"#,
            r#"  1.00|2.000   |+0|-003.142|5       |[a b]"#,
        ),
        (
            r#"{{ printf "%c|%c|%q" 0x1F600 -1 0x1F600 }}"#,
            r#"😀|�|'😀'"#,
        ),
        (
            r#"{{ 1.0 }}|{{ 2.50 }}|{{ 1e0 }}|{{ 123456789 }}|{{ 1.23456789e8 }}|{{ 0.1 }}|{{ 1e-7 }}|{{ 12345678.9 }}|{{ float64 123456 }}|{{ float64 1234567 }}"#,
            r#"1|2.5|1|123456789|1.23456789e+08|0.1|1e-07|1.23456789e+07|123456|1.234567e+06"#,
        ),
        (
            r#"{{ index .Values.l -1 }}"#,
            r#"ERR:error calling index: index out of range: -1"#,
        ),
        (
            r#"{{ slice .Values.l 2 1 }}"#,
            r#"ERR:error calling slice: reflect.Value.Slice: slice index out of bounds"#,
        ),
        (
            r#"{{ printf "%s|%v" (toDate "2006-01-02" "2020-01-01") (semver "1.0.0") }}"#,
            r#"2020-01-01 00:00:00 +0000 UTC|1.0.0"#,
        ),
    ]);
}

#[test]
fn missing_values_and_call_errors_match_helm() {
    check_helm_table(&[
        (
            r#"{{ $x := 1 }}{{ $x := 2 }}{{ $x }}|{{ if (eq 1 1) }}y{{ end }}|{{ index . "Values" "s" }}|{{ print . | len | lt 10 }}|{{ "a" | eq "a" }}|{{ 1 | printf "%d %d" 2 }}|{{ list 1 2 | last }}|{{ (1) }}|{{ (print) }}"#,
            r#"2|y|abc|true|true|2 1|2|1|"#,
        ),
        (
            r#"{{ trunc 3 }}"#,
            r#"ERR:wrong number of args for trunc: want 2 got 1"#,
        ),
        (
            r#"{{ .Values.l.foo }}"#,
            r#"ERR:can't evaluate field foo in type interface {}"#,
        ),
        (
            r#"{{ .Values.s 1 }}"#,
            r#"ERR:s is not a method but has arguments"#,
        ),
        (r#"{{ nil }}"#, r#"ERR:nil is not a command"#),
        (
            r#"{{ and }}"#,
            r#"ERR:wrong number of args for and: want at least 1 got 0"#,
        ),
        (
            r#"{{ add1f "x" }}|{{ add1 "x" }}|{{ int "x" }}|{{ float64 nil }}|{{ int nil }}|{{ add nil 1 }}"#,
            r#"1|1|0|0|0|1"#,
        ),
        (
            r#"{{- define "x" -}}
  X
{{- end -}}
[{{ template "x" }}]"#,
            r#"[X]"#,
        ),
        (
            r#"{{ range $i, $v := list "a" "b" }}{{ with $v }}{{ if eq . "b" }}{{ break }}{{ end }}{{ . }}{{ end }}{{ end }}"#,
            r#"a"#,
        ),
        (
            r#"{{ $v := list 1 2 }}{{ index $v 1 }}|{{ $m := .Values.m }}{{ $m.a }}|{{ $m.zz }}|{{ .Values.m.zz }}"#,
            r#"2|1||"#,
        ),
        (
            r#"{{ $m := .Values.m }}{{ $m.zz.yy }}"#,
            r#"ERR:nil pointer evaluating interface {}.yy"#,
        ),
        (
            r#"{{ printf "%v" .Values.missing }}|{{ printf "%s" .Values.missing }}|{{ print .Values.missing }}|{{ list .Values.missing }}|{{ typeOf .Values.missing }}|{{ kindOf .Values.missing }}"#,
            r#"<nil>|%!s(<nil>)|<nil>|[<nil>]|<nil>|invalid"#,
        ),
        (
            r#"{{ len .Values.missing }}"#,
            r#"ERR:error calling len: len of nil pointer"#,
        ),
        (
            r#"{{ empty .Values.missing }}|{{ default 5 .Values.missing }}|{{ ternary 1 2 (empty .Values.missing) }}|{{ coalesce .Values.missing .Values.empty "z" }}"#,
            r#"true|5|1|z"#,
        ),
        (
            r#"{{ toString .Values.missing }}|{{ quote .Values.missing }}|{{ squote .Values.missing }}|{{ cat .Values.missing "a" }}"#,
            r#"<nil>|||a"#,
        ),
        (
            r#"{{ eq .Values.missing nil }}|{{ ne .Values.missing "" }}"#,
            r#"true|true"#,
        ),
        (
            r#"{{ lt .Values.missing 1 }}"#,
            r#"ERR:error calling lt: invalid type for comparison"#,
        ),
        (
            r#"{{ dateInZone "15:04 MST" (toDate "2006-01-02" "2020-07-01") "Nope/Zone" }}|{{ toDate "2006-01-02 MST" "2020-07-01 PDT" }}"#,
            r#"00:00 UTC|2020-07-01 00:00:00 +0000 PDT"#,
        ),
    ]);
}
