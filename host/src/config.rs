//! `cordon.toml`: model backends, routes and editor settings.
//!
//! Where it comes from: `--config PATH` on any subcommand, else
//! `$CORDON_CONFIG`, else the user layer (`$XDG_CONFIG_HOME/cordon/cordon.toml`)
//! with the workspace layer (`<root>/.cordon/cordon.toml`) over it, merged
//! key by key (a workspace setting `model` of a backend keeps the user's
//! `base_url`). A workspace's file comes with the repository: until the
//! workspace is trusted only its `[lsp]` settings apply; once trusted it may
//! add backends and routes, but never change where an existing backend
//! sends data (`provider`, `base_url`, `region`, `profile`, `api_key_env`,
//! `use_fips`, `inference_geo`, `guardrail`), nor point a new one at
//! another server or key (`base_url`, `api_key_env`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cordon_providers::BackendConfig;

/// Where a configuration file sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// `--config` or `$CORDON_CONFIG`.
    Explicit,
    /// `$XDG_CONFIG_HOME/cordon/cordon.toml`.
    User,
    /// `<workspace>/.cordon/cordon.toml`.
    Workspace,
}

/// The merged configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Backends by name.
    pub backends: BTreeMap<String, BackendConfig>,
    /// Plugin name (or `default`) to backend name.
    pub routes: BTreeMap<String, String>,
    /// Editor settings (`[lsp]`), in the shape `initializationOptions` use.
    pub lsp: serde_json::Value,
    /// The files read, in the order applied.
    pub files: Vec<(Source, PathBuf)>,
    /// What was ignored and why (an untrusted workspace's backends and
    /// routes), for the user.
    pub ignored: Vec<String>,
}

/// Keys of a backend that decide where its data goes: a workspace never
/// changes them on a backend the user configured.
const PATH_KEYS: [&str; 8] = [
    "provider",
    "base_url",
    "region",
    "profile",
    "api_key_env",
    "use_fips",
    "inference_geo",
    "guardrail",
];

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", .path.display())]
pub struct ConfigError {
    pub path: PathBuf,
    pub message: String,
}

#[derive(Debug, serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    backends: BTreeMap<String, BackendConfig>,
    #[serde(default)]
    routes: BTreeMap<String, String>,
    #[serde(default)]
    lsp: Option<toml::Table>,
}

/// The files to read, in the order they apply (later wins).
pub fn sources(explicit: Option<&Path>, workspace_root: Option<&Path>) -> Vec<(Source, PathBuf)> {
    if let Some(path) = explicit {
        return vec![(Source::Explicit, path.to_owned())];
    }
    if let Some(path) = std::env::var_os("CORDON_CONFIG").filter(|p| !p.is_empty()) {
        return vec![(Source::Explicit, PathBuf::from(path))];
    }
    let mut found = Vec::new();
    if let Some(dir) = dirs::config_dir() {
        found.push((Source::User, dir.join("cordon").join("cordon.toml")));
    }
    if let Some(root) = workspace_root {
        found.push((Source::Workspace, root.join(".cordon").join("cordon.toml")));
    }
    found
}

fn parse(source: Source, path: &Path, text: &str) -> Result<File, ConfigError> {
    let err = |message: String| ConfigError {
        path: path.to_owned(),
        message,
    };
    let file: File = toml::from_str(text).map_err(|e| err(e.to_string().trim_end().to_owned()))?;
    for name in file.backends.keys() {
        if !valid_name(name) {
            return Err(err(format!(
                "backend name `{name}`: use lowercase letters, digits, `-` and `_`"
            )));
        }
    }
    let _ = source;
    Ok(file)
}

/// Applies one file's table over `merged`, key by key, after checking what
/// a workspace's file may do. `trusted` is whether the workspace is.
fn apply(
    merged: &mut toml::Table,
    source: Source,
    path: &Path,
    mut table: toml::Table,
    trusted: bool,
    ignored: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let err = |message: String| ConfigError {
        path: path.to_owned(),
        message,
    };
    if source == Source::Workspace {
        if !trusted {
            for key in ["backends", "routes"] {
                if table.remove(key).is_some() {
                    ignored.push(format!(
                        "{}: [{key}] ignored: the workspace is not trusted (run `cordon trust` to use it)",
                        path.display()
                    ));
                }
            }
        }
        let existing = merged.get("backends").and_then(|b| b.as_table());
        if let Some(backends) = table.get("backends").and_then(|b| b.as_table()) {
            for (name, backend) in backends {
                let Some(backend) = backend.as_table() else {
                    continue;
                };
                let user = existing
                    .and_then(|e| e.get(name))
                    .and_then(|b| b.as_table());
                let forbidden: &[&str] = if user.is_some() {
                    &PATH_KEYS
                } else {
                    &["base_url", "api_key_env"]
                };
                for key in forbidden {
                    if backend.contains_key(*key) {
                        let why = if user.is_some() {
                            "it would change where your backend sends your code"
                        } else {
                            "it would send your code or key elsewhere"
                        };
                        return Err(err(format!(
                            "[backends.{name}] {key}: a workspace's cordon.toml may not set `{key}` ({why}); set it in your user config"
                        )));
                    }
                }
            }
        }
    }
    merge(merged, table);
    Ok(())
}

/// `from` over `into`, recursing into tables.
fn merge(into: &mut toml::Table, from: toml::Table) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Read and merge the configuration. Missing files are skipped; an explicit
/// file must exist. A workspace's file applies in full only when `trusted`.
pub fn load(
    explicit: Option<&Path>,
    workspace_root: Option<&Path>,
    trusted: bool,
) -> Result<Config, ConfigError> {
    let mut files = Vec::new();
    for (source, path) in sources(explicit, workspace_root) {
        match std::fs::read_to_string(&path) {
            Ok(text) => files.push((source, path, text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && source != Source::Explicit => {}
            Err(e) => {
                return Err(ConfigError {
                    path,
                    message: format!("cannot read it: {e}"),
                });
            }
        }
    }
    from_texts(files, trusted)
}

/// [`load`] on files already read: `(source, path, text)` in the order
/// they apply.
pub fn from_texts(
    files: Vec<(Source, PathBuf, String)>,
    trusted: bool,
) -> Result<Config, ConfigError> {
    let mut config = Config {
        lsp: serde_json::Value::Object(Default::default()),
        ..Config::default()
    };
    let mut merged = toml::Table::new();
    for (source, path, text) in files {
        let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError {
            path: path.clone(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        apply(
            &mut merged,
            source,
            &path,
            table,
            trusted,
            &mut config.ignored,
        )?;
        // Each layer must leave a valid whole: errors name the file that
        // made it invalid.
        parse(source, &path, &toml::to_string(&merged).unwrap_or_default())?;
        config.files.push((source, path));
    }
    let file = parse(
        Source::User,
        Path::new("cordon.toml"),
        &toml::to_string(&merged).unwrap_or_default(),
    )?;
    config.backends = file.backends;
    config.routes = file.routes;
    if let Some(lsp) = file.lsp {
        config.lsp = serde_json::to_value(lsp).map_err(|e| ConfigError {
            path: config
                .files
                .last()
                .map(|(_, p)| p.clone())
                .unwrap_or_default(),
            message: format!("[lsp]: {e}"),
        })?;
    }
    for (from, to) in &config.routes {
        if to != "local" && !config.backends.contains_key(to) {
            let path = config
                .files
                .last()
                .map(|(_, p)| p.clone())
                .unwrap_or_default();
            return Err(ConfigError {
                path,
                message: format!(
                    "[routes] {from} = \"{to}\": no backend `{to}` is configured; add [backends.{to}] or route to \"local\""
                ),
            });
        }
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn an_explicit_file_is_read_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "c.toml",
            "[backends.gpt]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"http://127.0.0.1:1\"\n[routes]\ndefault = \"gpt\"\n[lsp]\ndebounce_ms = 50\n",
        );
        let config = load(Some(&path), Some(dir.path()), false).unwrap();
        assert_eq!(config.routes["default"], "gpt");
        assert_eq!(config.backends["gpt"].model, "m");
        assert_eq!(config.lsp["debounce_ms"], 50);
        assert!(load(Some(&dir.path().join("missing.toml")), None, false).is_err());
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "c.toml",
            "[backends.gpt]\nprovider = \"openai\"\nmodle = \"m\"\n",
        );
        let err = load(Some(&path), None, false).unwrap_err().to_string();
        assert!(err.contains("c.toml") && err.contains("modle"), "{err}");
        let path = write(dir.path(), "d.toml", "[routes]\ndefault = \"claude\"\n");
        let err = load(Some(&path), None, false).unwrap_err().to_string();
        assert!(err.contains("no backend `claude`"), "{err}");
    }

    /// A user layer and a workspace layer, merged.
    fn layered(user: &str, workspace: &str, trusted: bool) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let user_path = write(dir.path(), "user.toml", user);
        let ws = dir.path().join("ws");
        write(&ws, ".cordon/cordon.toml", workspace);
        let mut merged = toml::Table::new();
        let mut ignored = Vec::new();
        let mut config = Config::default();
        for (source, path) in [
            (Source::User, user_path),
            (Source::Workspace, ws.join(".cordon/cordon.toml")),
        ] {
            let table: toml::Table =
                toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            apply(&mut merged, source, &path, table, trusted, &mut ignored)?;
            parse(source, &path, &toml::to_string(&merged).unwrap())?;
        }
        let file = parse(
            Source::User,
            Path::new("x"),
            &toml::to_string(&merged).unwrap(),
        )?;
        config.backends = file.backends;
        config.routes = file.routes;
        config.ignored = ignored;
        Ok(config)
    }

    const USER: &str = "[backends.claude]\nprovider = \"anthropic\"\nmodel = \"m\"\nbase_url = \"http://127.0.0.1:9\"\n[routes]\ndefault = \"claude\"\n";

    #[test]
    fn layers_merge_key_by_key() {
        let config = layered(
            USER,
            "[backends.claude]\nmodel = \"other\"\ntimeout_ms = 5\n",
            true,
        )
        .unwrap();
        let claude = &config.backends["claude"];
        assert_eq!(claude.model, "other");
        assert_eq!(
            claude.base_url.as_deref(),
            Some("http://127.0.0.1:9"),
            "the user's endpoint stays"
        );
    }

    #[test]
    fn an_untrusted_workspace_adds_no_backends_or_routes() {
        let config = layered(
            USER,
            "[backends.evil]\nprovider = \"openai\"\nmodel = \"m\"\n[routes]\ndefault = \"evil\"\n",
            false,
        )
        .unwrap();
        assert!(!config.backends.contains_key("evil"));
        assert_eq!(config.routes["default"], "claude");
        assert_eq!(config.ignored.len(), 2, "{:?}", config.ignored);
        assert!(config.ignored[0].contains("cordon trust"));
    }

    #[test]
    fn a_workspace_never_changes_where_an_existing_backend_sends_data() {
        for key in [
            "provider = \"openai\"",
            "base_url = \"https://evil.example\"",
            "region = \"eu-west-1\"",
            "profile = \"x\"",
            "api_key_env = \"X\"",
        ] {
            let err = layered(USER, &format!("[backends.claude]\n{key}\n"), true)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("may not set") && err.contains("user config"),
                "{key}: {err}"
            );
        }
    }

    #[test]
    fn a_workspace_may_not_redirect_a_backend() {
        let err = layered(
            "",
            "[backends.claude]\nprovider = \"anthropic\"\nmodel = \"m\"\nbase_url = \"https://evil.example\"\n",
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("base_url") && err.contains("user config"),
            "{err}"
        );
    }
}
