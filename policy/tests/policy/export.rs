//! `[audit.export]`: only the organisation names where the audit log is
//! shipped; header values never appear in the file; bad values are errors
//! with a position.

use std::path::{Path, PathBuf};

use cordon_policy::{Layer, Problem, parse_layer};

use crate::common::*;

const ORG: &str = r#"
[audit]
path = "audit.jsonl"

[audit.export]
endpoint = "https://otel.example.com:4318"
headers = { Authorization = "CORDON_OTLP_AUTH", "X-Scope-OrgID" = "TEAM_ID" }
ca_file = "ca.pem"
"#;

fn errors_in(layer: Layer, text: &str) -> Vec<String> {
    match parse_layer(layer, Path::new("/p/policy.toml"), text) {
        Ok(_) => panic!("unexpectedly valid:\n{text}"),
        Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn the_organisation_names_a_destination() {
    let l = layer(Layer::Organisation, ORG);
    let target = l.audit_export().expect("export");
    assert_eq!(target.endpoint, "https://otel.example.com:4318");
    assert_eq!(target.protocol, "http/protobuf");
    assert_eq!(target.headers["Authorization"], "CORDON_OTLP_AUTH");
    assert_eq!(target.headers["X-Scope-OrgID"], "TEAM_ID");
    assert_eq!(
        target.ca_file.as_deref(),
        Some(PathBuf::from("/test/organisation/ca.pem").as_path())
    );
    let effective = effective(&[(Layer::Organisation, ORG)]);
    let exports = effective.audit_exports();
    assert_eq!(exports.len(), 1);
    assert_eq!(
        exports[0].0.path,
        PathBuf::from("/test/organisation/audit.jsonl")
    );
}

#[test]
fn no_other_layer_may_name_or_redirect_a_destination() {
    for layer in [Layer::Workspace, Layer::User] {
        let errs = errors_in(layer, ORG);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].contains("`audit.export`"), "{errs:?}");
        assert!(errs[0].contains("only the organisation policy"), "{errs:?}");
        assert!(errs[0].contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{errs:?}");
    }
    // A narrowing-only organisation layer (an override of the installed
    // policy) ships nothing either.
    let mut org = layer(Layer::Organisation, ORG);
    org.set_narrow_only(true);
    assert!(
        cordon_policy::Effective::from_layers(vec![org])
            .audit_exports()
            .is_empty()
    );
}

#[test]
fn header_values_never_go_in_the_file() {
    let errs = errors_in(
        Layer::Organisation,
        "[audit]\npath = \"a.jsonl\"\n[audit.export]\nendpoint = \"http://c:4318\"\nheaders = { Authorization = \"Bearer abc123\" }\n",
    );
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("/p/policy.toml:5:"), "{errs:?}");
    assert!(
        errs[0].contains("name the environment variable"),
        "{errs:?}"
    );
}

#[test]
fn a_malformed_endpoint_or_protocol_is_an_error_with_a_position() {
    for bad in ["otel:4318", "ftp://otel", "https://", "http://a b"] {
        let text = format!("[audit]\npath = \"a.jsonl\"\n[audit.export]\nendpoint = \"{bad}\"\n");
        let errs = errors_in(Layer::Organisation, &text);
        assert_eq!(errs.len(), 1, "{bad}: {errs:?}");
        assert!(errs[0].contains("/p/policy.toml:4:12"), "{errs:?}");
        assert!(errs[0].contains("http:// or https:// URL"), "{errs:?}");
    }
    let errs = errors_in(
        Layer::Organisation,
        "[audit]\npath = \"a.jsonl\"\n[audit.export]\nendpoint = \"http://c:4318\"\nprotocol = \"grpc\"\n",
    );
    assert!(errs[0].contains("http/protobuf"), "{errs:?}");
    let errs = errors_in(
        Layer::Organisation,
        "[audit]\npath = \"a.jsonl\"\n[audit.export]\nprotocol = \"http/protobuf\"\n",
    );
    assert!(
        errs[0].contains("needs `audit.export.endpoint`"),
        "{errs:?}"
    );
    let errs = errors_in(
        Layer::Organisation,
        "[audit]\npath = \"a.jsonl\"\n[audit.export]\nendpont = \"http://c\"\n",
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("unknown key `audit.export.endpont`")),
        "{errs:?}"
    );
}

#[test]
fn problems_keep_their_key() {
    let (_, _, problem, _) =
        one_error("[audit]\npath = \"a.jsonl\"\n[audit.export]\nendpoint = \"http://c\"\n");
    assert!(matches!(problem, Problem::Confined { .. }), "{problem:?}");
}
