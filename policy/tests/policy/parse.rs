//! Parsing and validation: every rule has a test, every error carries
//! file:line:col and names the key.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use cordon_policy::{Layer, LimitKind, PolicyError, Problem, layer_paths_with, load};

use crate::common::*;

#[test]
fn the_briefs_example_is_valid() {
    let l = layer(Layer::Organisation, EXAMPLE);
    assert_eq!(l.plugin_tables().collect::<Vec<_>>(), ["*", "completion"]);
    assert_eq!(l.exclude_patterns(), ["**/.env", "**/*.pem", "secrets/**"]);
    assert_eq!(l.redact_secrets(), Some(true));
    let audit = l.audit().unwrap();
    assert_eq!(audit.path, PathBuf::from("/test/organisation/audit.jsonl"));
    assert!(!audit.prompts);
}

#[test]
fn an_empty_file_is_a_valid_layer() {
    let l = layer(Layer::User, "");
    assert_eq!(l.plugin_tables().count(), 0);
}

#[test]
fn syntax_errors_have_a_position() {
    let (line, col, problem, msg) = one_error("[plugins.\"*\"]\ncapabilities = [\"model\"\n");
    assert!(matches!(problem, Problem::Syntax { .. }), "{problem:?}");
    assert_eq!((line, col), (2, 24), "{msg}");
    assert!(
        msg.starts_with("/w/.cordon/policy.toml:2:24: invalid TOML: unclosed array"),
        "{msg}"
    );
    assert!(msg.contains("fix the syntax"), "{msg}");
}

#[test]
fn duplicate_keys_are_syntax_errors() {
    let (line, _, problem, msg) =
        one_error("[content]\nredact_secrets = true\nredact_secrets = false\n");
    assert!(matches!(problem, Problem::Syntax { .. }), "{problem:?}");
    assert_eq!(line, 3, "{msg}");
}

#[test]
fn unknown_top_level_key() {
    let (line, col, problem, msg) = one_error("\n[plugin.completion]\ncapabilities = []\n");
    assert_eq!((line, col), (2, 2), "{msg}");
    assert_eq!(problem.key(), Some("plugin"));
    assert!(
        msg.contains(
            "unknown key `plugin` in the top level; expected one of: plugins, content, audit"
        ),
        "{msg}"
    );
}

#[test]
fn unknown_plugin_key_names_the_full_key() {
    let (line, col, problem, msg) =
        one_error("[plugins.completion]\ncapabilities = [\"log\"]\n  memroy_mib = 64\n");
    assert_eq!((line, col), (3, 3), "{msg}");
    assert_eq!(problem.key(), Some("plugins.completion.memroy_mib"));
    assert!(msg.contains("in [plugins.completion]"), "{msg}");
    assert!(
        msg.contains("memory_mib"),
        "the message lists the valid keys: {msg}"
    );
}

#[test]
fn unknown_content_and_audit_keys() {
    let (_, _, problem, _) = one_error("[content]\nexclude_paths = []\n");
    assert_eq!(problem.key(), Some("content.exclude_paths"));
    let (_, _, problem, msg) = one_error("[audit]\npath = \"a.jsonl\"\nfile = \"b\"\n");
    assert_eq!(problem.key(), Some("audit.file"));
    assert!(msg.contains("path, prompts"), "{msg}");
}

#[test]
fn wrong_types_name_key_expected_and_found() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "[plugins.\"*\"]\ncapabilities = \"model\"\n",
            "plugins.\"*\".capabilities",
            "an array of strings",
            "a string",
        ),
        (
            "[plugins.x]\ncapabilities = [\"log\", 3]\n",
            "plugins.x.capabilities",
            "an array of strings",
            "an integer",
        ),
        (
            "[plugins.x]\nmemory_mib = \"64\"\n",
            "plugins.x.memory_mib",
            "a whole number",
            "a string",
        ),
        (
            "[plugins.x]\ncpu_ms = 1.5\n",
            "plugins.x.cpu_ms",
            "a whole number",
            "a float",
        ),
        (
            "[plugins.x]\nmodels = \"claude\"\n",
            "plugins.x.models",
            "an array of strings",
            "a string",
        ),
        (
            "[plugins.x]\nsha256 = [true]\n",
            "plugins.x.sha256",
            "an array of strings",
            "a boolean",
        ),
        (
            "[content]\nredact_secrets = \"yes\"\n",
            "content.redact_secrets",
            "true or false",
            "a string",
        ),
        (
            "[content]\nexclude = \"secrets/**\"\n",
            "content.exclude",
            "an array of strings",
            "a string",
        ),
        (
            "[audit]\npath = 3\n",
            "audit.path",
            "a string",
            "an integer",
        ),
        (
            "[audit]\npath = \"a\"\nprompts = 1\n",
            "audit.prompts",
            "true or false",
            "an integer",
        ),
        ("plugins = 3\n", "plugins", "a table", "an integer"),
        ("content = []\n", "content", "a table", "an array"),
        ("[plugins]\nx = 3\n", "plugins.x", "a table", "an integer"),
    ];
    for (text, key, expected, found) in cases {
        let (_, _, problem, msg) = one_error(text);
        match &problem {
            Problem::WrongType {
                key: k,
                expected: e,
                found: f,
            } => {
                assert_eq!((k.as_str(), *e, *f), (*key, *expected, *found), "{text}");
            }
            other => panic!("{text}: {other:?}"),
        }
        assert!(
            msg.contains(&format!("`{key}` must be {expected}, not {found}")),
            "{msg}"
        );
    }
}

#[test]
fn wrong_type_points_at_the_value() {
    let (line, col, _, _) = one_error("[plugins.x]\ncapabilities = [\"log\", 3]\n");
    assert_eq!((line, col), (2, 24));
}

#[test]
fn capabilities_come_from_a_fixed_set() {
    let (line, col, problem, msg) =
        one_error("[plugins.x]\ncapabilities = [\"model\", \"network\"]\n");
    assert_eq!((line, col), (2, 26), "{msg}");
    assert_eq!(
        problem,
        Problem::UnknownCapability {
            key: "plugins.x.capabilities".into(),
            value: "network".into()
        }
    );
    assert!(
        msg.contains("use one of: model, workspace.read, log"),
        "{msg}"
    );
    // Names are exact.
    one_error("[plugins.x]\ncapabilities = [\"Model\"]\n");
    one_error("[plugins.x]\ncapabilities = [\"workspace\"]\n");
}

#[test]
fn providers_come_from_a_fixed_set() {
    let (_, _, problem, msg) = one_error("[plugins.x]\nproviders = [\"bedrock\", \"azure\"]\n");
    assert_eq!(
        problem,
        Problem::UnknownProvider {
            key: "plugins.x.providers".into(),
            value: "azure".into()
        }
    );
    assert!(msg.contains("anthropic, bedrock, openai, local"), "{msg}");
}

#[test]
fn bad_globs_are_rejected() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[plugins.x]\nworkspace_read = [\"src/[\"]\n",
            "plugins.x.workspace_read",
            "src/[",
        ),
        (
            "[plugins.x]\nmodels = [\"claude-{a\"]\n",
            "plugins.x.models",
            "claude-{a",
        ),
        ("[plugins.x]\nbackends = [\"\"]\n", "plugins.x.backends", ""),
        (
            "[plugins.x]\nregions = [\"us-[east\"]\n",
            "plugins.x.regions",
            "us-[east",
        ),
        (
            "[content]\nexclude = [\"ok/**\", \"/etc/**\"]\n",
            "content.exclude",
            "/etc/**",
        ),
        (
            "[content]\nexclude = [\"../outside/**\"]\n",
            "content.exclude",
            "../outside/**",
        ),
        ("[content]\nexclude = [\"\"]\n", "content.exclude", ""),
        (
            "[plugins.x]\nworkspace_read = [\"src/../..\"]\n",
            "plugins.x.workspace_read",
            "src/../..",
        ),
    ];
    for (text, key, pattern) in cases {
        let (line, _, problem, msg) = one_error(text);
        assert_eq!(line, 2);
        match &problem {
            Problem::BadGlob {
                key: k, pattern: p, ..
            } => assert_eq!((k.as_str(), p.as_str()), (*key, *pattern), "{text}"),
            other => panic!("{text}: {other:?}"),
        }
        assert!(msg.contains("is not a valid pattern"), "{msg}");
    }
    let (_, col, _, msg) = one_error("[content]\nexclude = [\"ok/**\", \"/etc/**\"]\n");
    assert_eq!(col, 21, "the error points at the bad element");
    assert!(msg.contains("drop the leading `/`"), "{msg}");
}

#[test]
fn digests_are_64_lowercase_hex() {
    let bad = [
        DIGEST.to_uppercase(),
        DIGEST[..63].to_owned(),
        format!("{DIGEST}0"),
        format!("sha256:{}", &DIGEST[..57]),
        DIGEST.replace('a', "g"),
    ];
    for digest in bad {
        let text = format!("[plugins.x]\nsha256 = [\"{DIGEST}\", \"{digest}\"]\n");
        let (line, _, problem, msg) = one_error(&text);
        assert_eq!(line, 2);
        assert_eq!(
            problem,
            Problem::BadDigest {
                key: "plugins.x.sha256".into(),
                value: digest.clone()
            }
        );
        assert!(msg.contains("64 lowercase hex"), "{msg}");
    }
}

#[test]
fn numbers_must_be_in_range() {
    for kind in LimitKind::ALL {
        let (min, max) = kind.range();
        for ok in [min, max] {
            layer(Layer::User, &format!("[plugins.x]\n{kind} = {ok}\n"));
        }
        let mut bad = vec![max as i128 + 1, -1];
        if min > 0 {
            bad.push(min as i128 - 1);
        }
        for value in bad {
            let (line, col, problem, msg) = one_error(&format!("[plugins.x]\n{kind} = {value}\n"));
            assert_eq!(line, 2);
            assert_eq!(col, kind.as_str().len() + 4, "{msg}");
            match problem {
                Problem::OutOfRange {
                    key,
                    min: lo,
                    max: hi,
                    ..
                } => {
                    assert_eq!(key, format!("plugins.x.{kind}"));
                    assert_eq!((lo, hi), (min, max));
                }
                other => panic!("{other:?}"),
            }
            assert!(msg.contains("use a whole number from"), "{msg}");
        }
    }
    // Other radixes are fine.
    let l = layer(Layer::User, "[plugins.x]\nmemory_mib = 0x40\n");
    let e = cordon_policy::Effective::from_layers(vec![l]);
    assert_eq!(e.limits("x").memory_mib, Some(64));
}

#[test]
fn plugin_names_must_be_plugin_names() {
    for name in ["Completion", "\"my plugin\"", "\"-x\"", "\"a.b\""] {
        let (line, _, problem, msg) = one_error(&format!("[plugins.{name}]\ncapabilities = []\n"));
        assert_eq!(line, 1);
        assert!(
            matches!(problem, Problem::BadPluginName { .. }),
            "{problem:?}"
        );
        assert!(msg.contains("cordon plugins list"), "{msg}");
    }
    layer(Layer::User, "[plugins.my-plugin2]\n[plugins.\"*\"]\n");
}

#[test]
fn audit_needs_a_path() {
    let (line, _, problem, msg) = one_error("[audit]\nprompts = true\n");
    assert_eq!(line, 1);
    assert!(
        matches!(
            problem,
            Problem::MissingKey {
                key: "audit.path",
                ..
            }
        ),
        "{problem:?}"
    );
    assert!(msg.contains("add `path"), "{msg}");
    let (_, _, problem, _) = one_error("[audit]\npath = \"  \"\n");
    assert!(matches!(problem, Problem::Empty { .. }), "{problem:?}");
    // Absolute paths stay as they are.
    let l = layer(
        Layer::User,
        "[audit]\npath = \"/var/log/cordon.jsonl\"\nprompts = true\n",
    );
    assert_eq!(
        l.audit().unwrap().path,
        PathBuf::from("/var/log/cordon.jsonl")
    );
    assert!(l.audit().unwrap().prompts);
}

#[test]
fn all_errors_of_a_file_are_reported_in_order() {
    let text = "[plugins.x]\nmemory_mib = 0\ncapabilities = [\"fly\"]\n[content]\nexclude = [\"/a\"]\nfoo = 1\n";
    let errs = errors(text);
    let lines: Vec<usize> = errs.iter().map(|e| e.position().unwrap().0).collect();
    assert_eq!(lines, [2, 3, 5, 6], "{errs:#?}");
}

#[test]
fn load_reads_existing_layers_and_reports_every_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let org = dir.path().join("org.toml");
    let user = dir.path().join("user.toml");
    let missing = dir.path().join("missing.toml");
    std::fs::write(&org, EXAMPLE).unwrap();
    std::fs::write(&user, "[plugins.\"*\"]\nmax_output_tokens = 256\n").unwrap();
    let e = load(&[
        (Layer::Organisation, org.clone()),
        (Layer::Workspace, missing.clone()),
        (Layer::User, user.clone()),
    ])
    .unwrap();
    assert!(e.is_configured());
    assert_eq!(
        e.layers().iter().map(|l| l.layer()).collect::<Vec<_>>(),
        [Layer::Organisation, Layer::User]
    );
    assert_eq!(e.limits("anything").max_output_tokens, Some(256));

    // Nothing exists: not configured.
    let e = load(&[(Layer::Organisation, missing.clone())]).unwrap();
    assert!(!e.is_configured());

    // Two bad files, plus one that is a folder (cannot be read).
    std::fs::write(&org, "[plugins.x]\ncapabilities = [\"fly\"]\n").unwrap();
    std::fs::write(&user, "nonsense = \n").unwrap();
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    let errs = load(&[
        (Layer::Organisation, org.clone()),
        (Layer::Workspace, folder.clone()),
        (Layer::User, user.clone()),
    ])
    .unwrap_err();
    assert_eq!(errs.len(), 3, "{errs}");
    let shown = errs.to_string();
    assert!(shown.starts_with("3 policy errors"), "{shown}");
    assert!(shown.contains(&format!("{}:2:", org.display())), "{shown}");
    assert!(shown.contains(&format!("{}:1:", user.display())), "{shown}");
    assert!(
        matches!(
            errs.iter().nth(1),
            Some(PolicyError::Read {
                layer: Layer::Workspace,
                ..
            })
        ),
        "{errs:?}"
    );
    assert!(shown.contains("never ignored"), "{shown}");

    // Not UTF-8.
    std::fs::write(&user, b"[content]\nexclude = [\"\xff\"]\n").unwrap();
    let errs = load(&[(Layer::User, user.clone())]).unwrap_err();
    assert!(errs.to_string().contains("not UTF-8"), "{errs}");
}

#[test]
fn layer_paths_follow_the_environment() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    };
    let root = Path::new("/src/project");
    let paths = layer_paths_with(env(&[("HOME", "/home/me")]), Some(root));
    assert_eq!(
        paths,
        [
            (
                Layer::Organisation,
                PathBuf::from("/etc/cordon/policy.toml")
            ),
            (
                Layer::Workspace,
                PathBuf::from("/src/project/.cordon/policy.toml")
            ),
            (
                Layer::User,
                PathBuf::from("/home/me/.config/cordon/policy.toml")
            ),
        ]
    );
    let paths = layer_paths_with(
        env(&[
            ("CORDON_ORG_POLICY", "/opt/org.toml"),
            ("XDG_CONFIG_HOME", "/cfg"),
            ("HOME", "/home/me"),
        ]),
        None,
    );
    assert_eq!(
        paths,
        [
            (Layer::Organisation, PathBuf::from("/opt/org.toml")),
            (Layer::User, PathBuf::from("/cfg/cordon/policy.toml")),
        ]
    );
    // Empty variables count as unset; no HOME, no user layer.
    let paths = layer_paths_with(
        env(&[("CORDON_ORG_POLICY", ""), ("XDG_CONFIG_HOME", "")]),
        None,
    );
    assert_eq!(
        paths,
        [(
            Layer::Organisation,
            PathBuf::from("/etc/cordon/policy.toml")
        )]
    );
    assert!(Layer::Organisation < Layer::Workspace && Layer::Workspace < Layer::User);
}
