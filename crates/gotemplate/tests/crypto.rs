//! Sprig's crypto functions through templates: their outputs are random,
//! so the checks are on structure (PEM kinds, issuer/subject), on the
//! deterministic functions' exact values, and on round trips.

mod common;

use common::check_table;

/// One RSA key only: generating RSA keys is slow in unoptimised builds.
#[test]
fn certificates_from_templates() {
    let template = r#"{{- $ca := genCA "my-ca" 365 -}}
{{- $cert := genSignedCertWithKey "svc" (list "10.0.0.1") (list "svc.ns.svc") 30 $ca (genPrivateKey "ecdsa") -}}
{{- $self := genSelfSignedCertWithKey "self" nil nil 1 (genPrivateKey "ed25519") -}}
{{ hasPrefix "-----BEGIN CERTIFICATE-----" $ca.Cert }} {{ hasPrefix "-----BEGIN RSA PRIVATE KEY-----" $ca.Key }} {{ hasPrefix "-----BEGIN CERTIFICATE-----" $cert.Cert }} {{ hasPrefix "-----BEGIN PRIVATE KEY-----" $self.Key }} {{ typeOf $ca }} {{ kindOf $ca }}"#;
    check_table(&[(template, "true true true true sprig.certificate struct")]);
}

#[test]
fn keys_and_custom_certs() {
    check_table(&[
        (
            r#"{{ genPrivateKey "ecdsa" | hasPrefix "-----BEGIN EC PRIVATE KEY-----" }}"#,
            "true",
        ),
        (
            r#"{{ genPrivateKey "ed25519" | hasPrefix "-----BEGIN PRIVATE KEY-----" }}"#,
            "true",
        ),
        (r#"{{ genPrivateKey "nope" }}"#, "Unknown type nope"),
        (
            r#"{{ $k := genPrivateKey "ecdsa" }}{{ $ca := genCAWithKey "c" 1 $k }}{{ eq $ca.Key $k }}"#,
            "true",
        ),
        (
            r#"{{ $ca := genCAWithKey "c" 1 (genPrivateKey "ecdsa") }}{{ $c := buildCustomCert ($ca.Cert | b64enc) ($ca.Key | b64enc) }}{{ eq $c.Cert $ca.Cert }}"#,
            "true",
        ),
        (
            r#"{{ buildCustomCert "!!" "" }}"#,
            "ERR:unable to decode base64 certificate",
        ),
        (
            r#"{{ genSignedCert "x" nil nil 1 (dict) }}"#,
            "ERR:wrong type for value; expected sprig.certificate; got map[string]interface {}",
        ),
        (
            r#"{{ genSelfSignedCert "x" (list 1) nil 1 }}"#,
            "ERR:error parsing ip: 1 is not a string",
        ),
    ]);
}

#[test]
fn passwords_and_aes() {
    check_table(&[
        (
            r#"{{ len (bcrypt "x") }}|{{ substr 0 7 (bcrypt "x") }}"#,
            "60|$2a$10$",
        ),
        (r#"{{ htpasswd "a:b" "x" }}"#, "invalid username: a:b"),
        (
            r#"{{ htpasswd "user" "x" | hasPrefix "user:$2a$10$" }}"#,
            "true",
        ),
        (
            r#"{{ decryptAES "secretkey" (encryptAES "secretkey" "plaintext") }}|{{ encryptAES "k" "" }}"#,
            "plaintext|",
        ),
    ]);
}
