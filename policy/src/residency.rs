//! Where a model request is processed, as opposed to where the API call is
//! sent: every request is classified before any byte leaves, and residency
//! rules (`regions`, `geographies`) judge every region it may run in.
//!
//! | model id | [`Processing`] |
//! | --- | --- |
//! | `anthropic.claude-…` (no prefix), `arn:…:foundation-model/…`, `arn:…:provisioned-model/…`, `arn:…:custom-model/…` | [`Processing::InRegion`]: the region of the call (or of the ARN) |
//! | `us.`, `us-gov.`, `eu.`, `apac.`, `jp.`, `au.` … | [`Processing::Geographic`]: the destinations of `data/bedrock-geographic-profiles.toml` plus the source region |
//! | `global.…` | [`Processing::Global`]: any commercial region |
//! | `arn:…:inference-profile/PROFILE` (system-defined) | as `PROFILE`, from the ARN's region |
//! | `arn:…:application-inference-profile/ID` | [`Processing::Opaque`]: it may wrap any route |
//! | a prefix not in the table (`xx.anthropic…`) | [`Processing::UnknownProfile`] |
//!
//! Anthropic's API has no regions: its requests are [`Processing::Geography`]
//! of the backend's `inference_geo` (`us`), or `global` without one.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use serde::Deserialize;

/// Names the `geographies` key accepts.
pub const GEOGRAPHY_NAMES: &[&str] = &[
    "us", "us-gov", "eu", "apac", "jp", "au", "ca", "sa", "me", "af", "il", "mx", "cn", "global",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    profiles: BTreeMap<String, Profile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    regions: Vec<String>,
    #[allow(dead_code)] // documentation beside the data
    source: String,
    #[allow(dead_code)]
    as_of: String,
}

static PROFILES: LazyLock<BTreeMap<String, Vec<String>>> = LazyLock::new(|| {
    let table: Table = toml::from_str(include_str!("../data/bedrock-geographic-profiles.toml"))
        .expect("data/bedrock-geographic-profiles.toml is valid (checked by a unit test)");
    table
        .profiles
        .into_iter()
        .map(|(prefix, p)| (prefix, p.regions))
        .collect()
});

/// The destination regions AWS documents for a geographic profile prefix
/// (`us`, `eu`, …), if the table has it.
pub fn profile_regions(prefix: &str) -> Option<&'static [String]> {
    PROFILES.get(prefix).map(Vec::as_slice)
}

/// Where one request may be processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processing {
    /// Only in this region.
    InRegion(String),
    /// A geographic inference profile: any of these regions (source region
    /// included), sorted.
    Geographic {
        /// The profile prefix, e.g. `us`.
        prefix: String,
        /// Every region it may run in.
        regions: Vec<String>,
    },
    /// A `global.` profile: any commercial region.
    Global,
    /// An application inference profile ARN: it may wrap any route.
    Opaque(String),
    /// A geographic-looking prefix the table does not know.
    UnknownProfile(String),
    /// A provider with no regions that processes in one geography (Anthropic
    /// with `inference_geo = "us"`).
    Geography(String),
    /// The processing location is not known (a Bedrock backend without a
    /// region, an OpenAI-compatible server).
    Unknown,
    /// Nothing leaves the machine.
    Local,
}

impl Processing {
    /// Classifies a request to `model` through a backend of `provider` in
    /// `region` (Bedrock) or with `inference_geo` (Anthropic).
    pub fn of(
        provider: &str,
        model: &str,
        region: Option<&str>,
        inference_geo: Option<&str>,
    ) -> Processing {
        match provider {
            "local" => Processing::Local,
            "bedrock" => bedrock(model, region),
            "anthropic" => Processing::Geography(inference_geo.unwrap_or("global").to_owned()),
            _ => Processing::Unknown,
        }
    }

    /// The compact form written to the audit log: the regions
    /// comma-separated, or `global`, `opaque`, `geo:us`, `unknown`, `local`.
    pub fn audit_form(&self) -> String {
        match self {
            Processing::InRegion(r) => r.clone(),
            Processing::Geographic { regions, .. } => regions.join(","),
            Processing::Global => "global".into(),
            Processing::Opaque(_) => "opaque".into(),
            Processing::UnknownProfile(p) => format!("unknown-profile:{p}"),
            Processing::Geography(g) => format!("geo:{g}"),
            Processing::Unknown => "unknown".into(),
            Processing::Local => "local".into(),
        }
    }

    /// Whether every region this request may run in matches `allowed`
    /// (region globs as written in a policy).
    pub(crate) fn within_regions(&self, allowed: &crate::pattern::NamePatterns) -> bool {
        let star = allowed.sources().iter().any(|s| s == "*");
        match self {
            Processing::Local => true,
            Processing::InRegion(r) => allowed.is_match(r),
            Processing::Geographic { regions, .. } => regions.iter().all(|r| allowed.is_match(r)),
            Processing::Global => star,
            Processing::Opaque(_)
            | Processing::UnknownProfile(_)
            | Processing::Geography(_)
            | Processing::Unknown => false,
        }
    }

    /// Whether every region this request may run in lies in one of
    /// `allowed` (geography names).
    pub(crate) fn within_geographies<'a>(
        &self,
        allowed: impl IntoIterator<Item = &'a str> + Clone,
    ) -> bool {
        let has = |g: &str| allowed.clone().into_iter().any(|a| a == g);
        if has("global") {
            return !matches!(self, Processing::Opaque(_) | Processing::UnknownProfile(_));
        }
        let in_any = |region: &str| allowed.clone().into_iter().any(|g| in_geography(region, g));
        match self {
            Processing::Local => true,
            Processing::InRegion(r) => in_any(r),
            Processing::Geographic { regions, .. } => regions.iter().all(|r| in_any(r)),
            Processing::Geography(g) => has(g),
            Processing::Global
            | Processing::Opaque(_)
            | Processing::UnknownProfile(_)
            | Processing::Unknown => false,
        }
    }
}

impl fmt::Display for Processing {
    /// "may run in us-east-1, us-east-2, us-west-2"
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Processing::InRegion(r) => write!(f, "runs only in region `{r}`"),
            Processing::Geographic { prefix, regions } => write!(
                f,
                "is a `{prefix}.` cross-region inference profile and may run in {}",
                regions.join(", ")
            ),
            Processing::Global => f.write_str(
                "is a `global.` inference profile and may run in any commercial AWS region",
            ),
            Processing::Opaque(arn) => write!(
                f,
                "is an application inference profile ({arn}) whose routing Cordon cannot see (it may wrap a `global.` profile)"
            ),
            Processing::UnknownProfile(p) => write!(
                f,
                "uses the inference profile prefix `{p}.`, which Cordon's table of AWS geographies does not list"
            ),
            Processing::Geography(g) if g == "global" => f.write_str(
                "goes to the Anthropic API without `inference_geo`, so it may be processed anywhere",
            ),
            Processing::Geography(g) => write!(f, "is processed in the `{g}` geography"),
            Processing::Unknown => f.write_str(
                "has no region Cordon can check (set the backend's region so policy can check it)",
            ),
            Processing::Local => f.write_str("never leaves the machine"),
        }
    }
}

/// Whether AWS region `region` lies in geography `geo`.
pub fn in_geography(region: &str, geo: &str) -> bool {
    match geo {
        "global" => true,
        "us" => region.starts_with("us-") && !region.starts_with("us-gov-"),
        "us-gov" => region.starts_with("us-gov-"),
        "eu" => region.starts_with("eu-"),
        "apac" => region.starts_with("ap-"),
        "jp" => matches!(region, "ap-northeast-1" | "ap-northeast-3"),
        "au" => matches!(
            region,
            "ap-southeast-2" | "ap-southeast-4" | "ap-southeast-6"
        ),
        other => region
            .strip_prefix(other)
            .is_some_and(|rest| rest.starts_with('-')),
    }
}

fn bedrock(model: &str, region: Option<&str>) -> Processing {
    if let Some(arn) = model.strip_prefix("arn:") {
        // arn:PARTITION:bedrock:REGION:ACCOUNT:RESOURCE-TYPE/ID
        let parts: Vec<&str> = arn.splitn(5, ':').collect();
        let (arn_region, resource) = match parts.as_slice() {
            [_, "bedrock", r, _, resource] => (*r, *resource),
            _ => return Processing::Opaque(model.to_owned()),
        };
        let arn_region = (!arn_region.is_empty()).then_some(arn_region).or(region);
        let (kind, id) = resource.split_once('/').unwrap_or((resource, ""));
        return match kind {
            "inference-profile" if !id.is_empty() => profile_id(id, arn_region),
            "foundation-model" | "provisioned-model" | "custom-model" => {
                arn_region.map_or(Processing::Unknown, |r| Processing::InRegion(r.to_owned()))
            }
            _ => Processing::Opaque(model.to_owned()),
        };
    }
    profile_id(model, region)
}

/// A model or system-defined profile id: `us.anthropic…`, `global.…`, or a
/// plain model id.
fn profile_id(id: &str, region: Option<&str>) -> Processing {
    if let Some((prefix, rest)) = id.split_once('.')
        && looks_like_profile_prefix(prefix, rest)
    {
        if prefix == "global" {
            return Processing::Global;
        }
        return match profile_regions(prefix) {
            Some(destinations) => {
                let mut regions: Vec<String> = destinations.to_vec();
                if let Some(source) = region
                    && !regions.iter().any(|r| r == source)
                {
                    regions.push(source.to_owned());
                }
                regions.sort();
                Processing::Geographic {
                    prefix: prefix.to_owned(),
                    regions,
                }
            }
            None => Processing::UnknownProfile(prefix.to_owned()),
        };
    }
    region.map_or(Processing::Unknown, |r| Processing::InRegion(r.to_owned()))
}

/// A profile prefix is a short lowercase word before a model provider's
/// name (`us.anthropic.…`); a model id itself starts with the provider
/// (`anthropic.claude…`, `meta.llama…`), followed by a model name with a
/// version, never by another dot-separated provider.
fn looks_like_profile_prefix(prefix: &str, rest: &str) -> bool {
    let short_word = (2..=8).contains(&prefix.len())
        && prefix.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
    // `rest` must itself look like a model id: `vendor.model…`.
    short_word
        && prefix != "anthropic"
        && rest
            .split_once('.')
            .is_some_and(|(v, m)| !v.is_empty() && !m.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_lists_every_documented_prefix() {
        for prefix in ["us", "us-gov", "eu", "apac", "jp", "au"] {
            let regions = profile_regions(prefix).unwrap_or_else(|| panic!("{prefix}"));
            assert!(!regions.is_empty());
            for r in regions {
                assert!(in_geography(r, prefix), "{r} is not in {prefix}");
            }
        }
    }

    fn bedrock(model: &str) -> Processing {
        Processing::of("bedrock", model, Some("us-east-1"), None)
    }

    #[test]
    fn every_model_id_form_is_classified() {
        assert_eq!(
            bedrock("anthropic.claude-3-5-sonnet-20240620-v1:0"),
            Processing::InRegion("us-east-1".into())
        );
        assert_eq!(
            bedrock("us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            Processing::Geographic {
                prefix: "us".into(),
                regions: vec!["us-east-1".into(), "us-east-2".into(), "us-west-2".into()]
            }
        );
        assert_eq!(
            bedrock("global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            Processing::Global
        );
        assert!(matches!(
            bedrock("us-gov.anthropic.claude-3-haiku-20240307-v1:0"),
            Processing::Geographic { prefix, .. } if prefix == "us-gov"
        ));
        for prefix in ["eu", "apac", "jp", "au"] {
            let p = Processing::of(
                "bedrock",
                &format!("{prefix}.anthropic.claude-sonnet-4-5-20250929-v1:0"),
                Some("eu-west-1"),
                None,
            );
            match p {
                Processing::Geographic {
                    prefix: got,
                    regions,
                } => {
                    assert_eq!(got, prefix);
                    assert!(regions.iter().any(|r| r == "eu-west-1"), "source included");
                }
                other => panic!("{prefix}: {other:?}"),
            }
        }
        assert_eq!(
            bedrock("xx.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            Processing::UnknownProfile("xx".into())
        );
        // System-defined profile ARN: judged by its profile id, in its region.
        assert_eq!(
            bedrock(
                "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0"
            ),
            Processing::Global
        );
        assert!(matches!(
            bedrock("arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            Processing::Geographic { prefix, .. } if prefix == "us"
        ));
        // Application profiles are opaque.
        let app =
            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6";
        assert_eq!(bedrock(app), Processing::Opaque(app.into()));
        assert_eq!(
            bedrock(
                "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
            ),
            Processing::InRegion("us-west-2".into())
        );
        assert_eq!(
            bedrock("arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc"),
            Processing::InRegion("us-east-1".into())
        );
        assert!(matches!(
            bedrock("arn:aws:bedrock:us-east-1:1:prompt/x"),
            Processing::Opaque(_)
        ));
        assert_eq!(
            Processing::of("bedrock", "anthropic.claude-3-haiku", None, None),
            Processing::Unknown
        );
        assert_eq!(
            Processing::of("anthropic", "claude-opus-4-6", None, Some("us")),
            Processing::Geography("us".into())
        );
        assert_eq!(
            Processing::of("anthropic", "claude-opus-4-6", None, None),
            Processing::Geography("global".into())
        );
        assert_eq!(
            Processing::of("openai", "gpt", None, None),
            Processing::Unknown
        );
    }

    #[test]
    fn geographies_hold_their_regions() {
        assert!(in_geography("us-west-2", "us"));
        assert!(!in_geography("us-gov-west-1", "us"));
        assert!(in_geography("us-gov-west-1", "us-gov"));
        assert!(in_geography("ap-northeast-3", "jp"));
        assert!(!in_geography("ap-south-1", "jp"));
        assert!(in_geography("ca-central-1", "ca"));
        assert!(!in_geography("cat-1", "ca"));
        let us = bedrock("us.anthropic.claude-sonnet-4-5-20250929-v1:0");
        assert!(us.within_geographies(["us"]));
        assert!(!us.within_geographies(["eu"]));
        assert!(!Processing::Global.within_geographies(["us", "eu"]));
        assert!(Processing::Global.within_geographies(["global"]));
        assert!(!Processing::Opaque("arn".into()).within_geographies(["global"]));
    }
}
