//! Content exclusion.

use cordon_policy::Layer;

use crate::common::*;

#[test]
fn the_briefs_patterns() {
    let e = effective(&[(Layer::Organisation, EXAMPLE)]);
    for path in [
        ".env",
        "a/.env",
        "a/b/c/.env",
        "key.pem",
        "certs/deep/key.pem",
        "secrets/x",
        "secrets/a/b.txt",
        "./secrets/x",
        "secrets//x",
    ] {
        let d = e
            .is_excluded(path)
            .unwrap_or_else(|| panic!("{path} should be excluded"));
        assert!(!d.allowed);
        assert_eq!(d.layer, Some(Layer::Organisation));
        assert!(d.reason.contains("content.exclude pattern"), "{d}");
    }
    for path in [
        ".envrc",
        "a/.env.example",
        "src/pem.rs",
        "key.pem.txt",
        "src/secrets/x",
        "secretsx/y",
        "README.md",
    ] {
        assert_eq!(e.is_excluded(path), None, "{path} should not be excluded");
    }
    let d = e.is_excluded("secrets/a").unwrap();
    assert_eq!(
        d.reason,
        "excluded by the organisation policy (/test/organisation/policy.toml): `secrets/a` matches content.exclude pattern `secrets/**`; it is never read by plugins nor sent to a model"
    );
}

#[test]
fn patterns_without_a_slash_match_at_any_depth_and_folders_cover_their_content() {
    let e = effective(&[(
        Layer::User,
        "[content]\nexclude = [\"*.key\", \"private\", \"build/\", \"docs/tmp/\"]\n",
    )]);
    assert!(e.is_excluded("a/b/c.key").is_some());
    assert!(e.is_excluded("private").is_some());
    assert!(e.is_excluded("src/private/notes.txt").is_some());
    assert!(e.is_excluded("build/out/bin").is_some());
    assert!(
        e.is_excluded("src/build/out").is_some(),
        "a trailing / does not anchor, as in .gitignore"
    );
    assert!(e.is_excluded("privately.txt").is_none());
    assert!(e.is_excluded("docs/tmp/a").is_some());
    assert!(
        e.is_excluded("x/docs/tmp/a").is_none(),
        "an inner / anchors"
    );
}

#[test]
fn exclusion_is_the_union_of_layers_naming_the_layer_that_matched() {
    let e = effective(&[
        (
            Layer::Organisation,
            "[content]\nexclude = [\"secrets/**\"]\n",
        ),
        (Layer::Workspace, "[content]\nexclude = [\"fixtures/**\"]\n"),
        (
            Layer::User,
            "[content]\nexclude = [\"notes.md\", \"secrets/**\"]\n",
        ),
    ]);
    assert_eq!(
        e.is_excluded("secrets/a").unwrap().layer,
        Some(Layer::Organisation)
    );
    assert_eq!(
        e.is_excluded("fixtures/a").unwrap().layer,
        Some(Layer::Workspace)
    );
    assert_eq!(
        e.is_excluded("doc/notes.md").unwrap().layer,
        Some(Layer::User)
    );
    assert_eq!(e.exclude_patterns().len(), 4);
}

#[test]
fn unresolved_paths_fail_closed() {
    let e = effective(&[(
        Layer::Organisation,
        "[content]\nexclude = [\"secrets/**\"]\n",
    )]);
    for path in ["/abs/secrets/x", "src/../secrets/x", "../x"] {
        let d = e.is_excluded(path).unwrap_or_else(|| panic!("{path}"));
        assert!(!d.allowed);
        assert_eq!(d.layer, None);
    }
}

#[test]
fn excluded_files_are_never_read_even_when_granted() {
    let e = effective(&[
        (
            Layer::Organisation,
            "[plugins.\"*\"]\ncapabilities = [\"workspace.read\"]\nworkspace_read = [\"**\"]\n",
        ),
        (Layer::User, "[content]\nexclude = [\"**/.env\"]\n"),
    ]);
    assert!(e.allows_read("x", "src/main.rs").allowed);
    let d = e.allows_read("x", ".env");
    assert!(!d.allowed);
    assert_eq!(d.layer, Some(Layer::User));
}
