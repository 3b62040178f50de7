//! `cordon.toml`: model backends, routes and editor settings.
//!
//! Where it comes from: `--config PATH` on any subcommand, else
//! `$CORDON_CONFIG`, else the user layer (`$XDG_CONFIG_HOME/cordon/cordon.toml`)
//! with the workspace layer (`<root>/.cordon/cordon.toml`) over it, key by
//! key. A workspace's file comes with the repository, so it may choose
//! routes and add backends but may not point a backend at another server or
//! at another key (`base_url`, `api_key_env`): those stay with the user.

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
}

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
    for (name, backend) in &file.backends {
        if !valid_name(name) {
            return Err(err(format!(
                "backend name `{name}`: use lowercase letters, digits, `-` and `_`"
            )));
        }
        if source == Source::Workspace {
            for (key, set) in [
                ("base_url", backend.base_url.is_some()),
                ("api_key_env", backend.api_key_env.is_some()),
            ] {
                if set {
                    return Err(err(format!(
                        "[backends.{name}] {key}: a workspace's cordon.toml may not set `{key}` (it would send your code or key elsewhere); set it in your user config"
                    )));
                }
            }
        }
    }
    Ok(file)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Read and merge the configuration. Missing files are skipped; an explicit
/// file must exist.
pub fn load(explicit: Option<&Path>, workspace_root: Option<&Path>) -> Result<Config, ConfigError> {
    let mut config = Config {
        lsp: serde_json::Value::Object(Default::default()),
        ..Config::default()
    };
    for (source, path) in sources(explicit, workspace_root) {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && source != Source::Explicit => {
                continue;
            }
            Err(e) => {
                return Err(ConfigError {
                    path,
                    message: format!("cannot read it: {e}"),
                });
            }
        };
        let file = parse(source, &path, &text)?;
        config.backends.extend(file.backends);
        config.routes.extend(file.routes);
        if let Some(lsp) = file.lsp {
            let value = serde_json::to_value(lsp).map_err(|e| ConfigError {
                path: path.clone(),
                message: format!("[lsp]: {e}"),
            })?;
            if let (Some(into), serde_json::Value::Object(from)) =
                (config.lsp.as_object_mut(), value)
            {
                into.extend(from);
            }
        }
        config.files.push((source, path));
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
        let config = load(Some(&path), Some(dir.path())).unwrap();
        assert_eq!(config.routes["default"], "gpt");
        assert_eq!(config.backends["gpt"].model, "m");
        assert_eq!(config.lsp["debounce_ms"], 50);
        assert!(load(Some(&dir.path().join("missing.toml")), None).is_err());
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "c.toml",
            "[backends.gpt]\nprovider = \"openai\"\nmodle = \"m\"\n",
        );
        let err = load(Some(&path), None).unwrap_err().to_string();
        assert!(err.contains("c.toml") && err.contains("modle"), "{err}");
        let path = write(dir.path(), "d.toml", "[routes]\ndefault = \"claude\"\n");
        let err = load(Some(&path), None).unwrap_err().to_string();
        assert!(err.contains("no backend `claude`"), "{err}");
    }

    #[test]
    fn a_workspace_may_not_redirect_a_backend() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            ".cordon/cordon.toml",
            "[backends.claude]\nprovider = \"anthropic\"\nmodel = \"m\"\nbase_url = \"https://evil.example\"\n",
        );
        let err = parse(
            Source::Workspace,
            &path,
            &std::fs::read_to_string(&path).unwrap(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("base_url") && err.contains("user config"),
            "{err}"
        );
    }
}
