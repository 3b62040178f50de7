//! Residency rules judge where a request is processed, and path rules the
//! endpoint, credential, profile and guardrail that carry it.

use cordon_policy::{Layer, Route};

use crate::common::effective;

const ORG: Layer = Layer::Organisation;

fn bedrock<'a>(model: &'a str, region: &'a str) -> Route<'a> {
    Route {
        provider: "bedrock",
        backend: "claude-bedrock",
        model,
        region: Some(region),
        endpoint: Some("https://bedrock-runtime.us-east-1.amazonaws.com"),
        auth: Some("sigv4"),
        ..Route::default()
    }
}

const US_EAST_1: &str = "[plugins.\"*\"]\ncapabilities = [\"model\"]\nregions = [\"us-east-1\"]\n";

#[test]
fn a_global_profile_is_refused_under_a_region_rule() {
    let e = effective(&[(ORG, US_EAST_1)]);
    let d = e.allows_route(
        "p",
        &bedrock(
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "us-east-1",
        ),
    );
    assert!(!d.allowed);
    assert!(d.reason.contains("any commercial AWS region"), "{d}");
    assert!(d.reason.contains("regions = [\"*\"]"), "{d}");
    let e = effective(&[(
        ORG,
        "[plugins.\"*\"]\ncapabilities = [\"model\"]\nregions = [\"*\"]\n",
    )]);
    assert!(
        e.allows_route(
            "p",
            &bedrock(
                "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "us-east-1"
            )
        )
        .allowed
    );
}

#[test]
fn a_geographic_profile_is_judged_by_every_destination() {
    let e = effective(&[(ORG, US_EAST_1)]);
    let d = e.allows_route(
        "p",
        &bedrock("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "us-east-1"),
    );
    assert!(!d.allowed);
    assert!(
        d.reason
            .contains("may run in us-east-1, us-east-2, us-west-2")
            && d.reason.contains("the policy allows us-east-1"),
        "{d}"
    );
    let e = effective(&[(
        ORG,
        "[plugins.\"*\"]\ncapabilities = [\"model\"]\nregions = [\"us-*\"]\n",
    )]);
    assert!(
        e.allows_route(
            "p",
            &bedrock("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "us-east-1")
        )
        .allowed
    );
    // In-region model ids run where the call is sent.
    let e = effective(&[(ORG, US_EAST_1)]);
    assert!(
        e.allows_route(
            "p",
            &bedrock("anthropic.claude-3-5-sonnet-20240620-v1:0", "us-east-1")
        )
        .allowed
    );
}

#[test]
fn geographies_are_a_coarse_residency_rule() {
    let e = effective(&[(
        ORG,
        "[plugins.\"*\"]\ncapabilities = [\"model\"]\ngeographies = [\"us\"]\n",
    )]);
    assert!(
        e.allows_route(
            "p",
            &bedrock("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "us-east-1")
        )
        .allowed
    );
    for model in [
        "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
    ] {
        let d = e.allows_route("p", &bedrock(model, "us-east-1"));
        assert!(!d.allowed && d.reason.contains("geographies us"), "{d}");
    }
}

#[test]
fn an_application_profile_is_opaque_unless_named() {
    let arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3";
    let e = effective(&[(
        ORG,
        "[plugins.\"*\"]\ncapabilities = [\"model\"]\nregions = [\"us-east-1\"]\nmodels = [\"arn:aws:bedrock:*\"]\n",
    )]);
    let d = e.allows_route("p", &bedrock(arn, "us-east-1"));
    assert!(
        !d.allowed && d.reason.contains("application inference profile"),
        "{d}"
    );
    let e = effective(&[(
        ORG,
        &format!(
            "[plugins.\"*\"]\ncapabilities = [\"model\"]\nregions = [\"us-east-1\"]\nmodels = [\"{arn}\"]\n"
        ),
    )]);
    assert!(e.allows_route("p", &bedrock(arn, "us-east-1")).allowed);
}

#[test]
fn endpoints_fips_auth_profiles_and_guardrails_are_checked() {
    let e = effective(&[(
        ORG,
        r#"[plugins."*"]
capabilities = ["model"]
endpoints = ["vpce-*.bedrock-runtime.us-east-1.vpce.amazonaws.com", "https://gateway.corp.example/*"]
auth = ["sigv4"]
aws_profiles = ["prod"]
guardrails = ["gr-team*"]
"#,
    )]);
    let vpce = "https://vpce-0abc-xyz.bedrock-runtime.us-east-1.vpce.amazonaws.com";
    let good = Route {
        endpoint: Some(vpce),
        aws_profile: Some("prod"),
        guardrail: Some("gr-team1"),
        ..bedrock("anthropic.claude-3", "us-east-1")
    };
    assert!(
        e.allows_route("p", &good).allowed,
        "{}",
        e.allows_route("p", &good)
    );
    let cases: Vec<(Route, &str)> = vec![
        (
            Route {
                endpoint: Some("https://bedrock-runtime.us-east-1.amazonaws.com"),
                ..good
            },
            "endpoint",
        ),
        (
            Route {
                auth: Some("bearer"),
                ..good
            },
            "credential kind `bearer`",
        ),
        (
            Route {
                aws_profile: None,
                ..good
            },
            "AWS profile `default`",
        ),
        (
            Route {
                guardrail: None,
                ..good
            },
            "without a guardrail",
        ),
        (
            Route {
                guardrail: Some("gr-other"),
                ..good
            },
            "guardrail `gr-other`",
        ),
    ];
    for (route, what) in cases {
        let d = e.allows_route("p", &route);
        assert!(!d.allowed && d.reason.contains(what), "{what}: {d}");
    }
    let gateway = Route {
        endpoint: Some("https://gateway.corp.example/bedrock"),
        ..good
    };
    assert!(e.allows_route("p", &gateway).allowed);
    let fips = effective(&[(
        ORG,
        "[plugins.\"*\"]\ncapabilities = [\"model\"]\nrequire_fips = true\n",
    )]);
    let d = fips.allows_route("p", &bedrock("anthropic.claude-3", "us-east-1"));
    assert!(!d.allowed && d.reason.contains("FIPS"), "{d}");
    let on = Route {
        fips: true,
        ..bedrock("anthropic.claude-3", "us-east-1")
    };
    assert!(fips.allows_route("p", &on).allowed);
}

#[test]
fn anthropic_inference_geo_can_be_required() {
    let e = effective(&[(
        ORG,
        "[plugins.\"*\"]\ncapabilities = [\"model\"]\ninference_geo = [\"us\"]\n",
    )]);
    let anthropic = Route {
        provider: "anthropic",
        backend: "claude",
        model: "claude-opus-4-6",
        endpoint: Some("https://api.anthropic.com"),
        auth: Some("api-key"),
        ..Route::default()
    };
    let d = e.allows_route("p", &anthropic);
    assert!(
        !d.allowed && d.reason.contains("without `inference_geo`"),
        "{d}"
    );
    let us = Route {
        inference_geo: Some("us"),
        ..anthropic
    };
    assert!(e.allows_route("p", &us).allowed);
    let geo = effective(&[(
        ORG,
        "[plugins.\"*\"]\ncapabilities = [\"model\"]\ngeographies = [\"us\"]\n",
    )]);
    assert!(geo.allows_route("p", &us).allowed);
    assert!(!geo.allows_route("p", &anthropic).allowed);
}

#[test]
fn unknown_words_are_errors_with_positions() {
    let (line, _, _, message) =
        crate::common::one_error("[plugins.\"*\"]\nauth = [\"password\"]\n");
    assert_eq!(line, 2);
    assert!(
        message.contains("sigv4, bearer, api-key, none"),
        "{message}"
    );
    let (_, _, _, message) =
        crate::common::one_error("[plugins.\"*\"]\ngeographies = [\"mars\"]\n");
    assert!(message.contains("us, us-gov, eu"), "{message}");
}
