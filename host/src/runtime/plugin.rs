//! Loading a plugin component: digest, compile (or cache), link, describe.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmtime::component::InstancePre;

use super::cache::{self, CacheOutcome};
use super::check::{self, NotAComponent, Refused};
use super::{CallError, CallState, Limits, Runtime};
use crate::api::Info;
use crate::api::guest;

/// How long a plugin's `describe` may take, whatever its call limits: it
/// runs while plugins load (concurrently, off the LSP `initialize` path),
/// and a name and a version need no model and no work.
pub const DESCRIBE_WALL: std::time::Duration = std::time::Duration::from_secs(2);

/// Where a plugin came from: part of its identity. Variants are in order
/// of trust, highest first; a plugin never takes the name of one loaded from
/// a more trusted place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Shipped inside the `cordon` binary.
    Builtin,
    /// A `.wasm` file from a folder given with `--plugin-dir`.
    CommandLine(PathBuf),
    /// A `.wasm` file from the user's `$XDG_DATA_HOME/cordon/plugins`.
    User(PathBuf),
    /// A `.wasm` file shipped in the workspace's `.cordon/plugins`
    /// (loaded only once the workspace is trusted).
    Workspace(PathBuf),
}

impl Origin {
    /// `built-in`, `command-line`, `user` or `workspace`.
    pub fn kind(&self) -> &'static str {
        match self {
            Origin::Builtin => "built-in",
            Origin::CommandLine(_) => "command-line",
            Origin::User(_) => "user",
            Origin::Workspace(_) => "workspace",
        }
    }

    /// The file it was loaded from, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Origin::Builtin => None,
            Origin::CommandLine(p) | Origin::User(p) | Origin::Workspace(p) => Some(p),
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.path() {
            None => f.write_str("built-in"),
            Some(path) => write!(f, "{} {}", self.kind(), path.display()),
        }
    }
}

/// A feature a plugin can provide: one exported interface of the plugin API,
/// shared by the CLI (`cordon run complete|refactor|explain`), the catalog
/// and the LSP server. Shown as its interface name (`completion`, …).
#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Feature {
    // `cordon run complete`: completion items at the cursor.
    #[value(name = "complete")]
    Completion,
    // Refactor actions offered at a range, and their edits.
    Refactor,
    // An explanation of the code at a range.
    Explain,
}

impl Feature {
    /// Every feature, in the order plugins list them.
    pub const ALL: [Feature; 3] = [Feature::Completion, Feature::Refactor, Feature::Explain];

    /// The interface (and plugin kind) that provides it.
    pub fn kind(self) -> &'static str {
        match self {
            Feature::Completion => "completion",
            Feature::Refactor => "refactor",
            Feature::Explain => "explain",
        }
    }
}

impl std::fmt::Display for Feature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

impl serde::Serialize for Feature {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.kind())
    }
}

/// The feature interfaces a plugin exports, resolved once at load.
pub(crate) struct Exports {
    pub completion: Option<guest::Completion>,
    pub refactor: Option<guest::Refactor>,
    pub explain: Option<guest::Explain>,
}

/// A loaded plugin, ready to be called.
pub struct Plugin {
    pub(crate) name: Arc<str>,
    pub(crate) digest_arc: Arc<str>,
    /// What the plugin says about itself.
    pub info: Info,
    /// Where it was loaded from.
    pub origin: Origin,
    /// The plugin API version it was built against (`0.2.0`, `0.1.0`).
    pub api_version: &'static str,
    /// Names of everything the component exports, e.g.
    /// `cordon:plugin/completion@0.2.0`.
    pub interfaces: Vec<String>,
    /// Limits on each of its calls.
    pub limits: Limits,
    /// Whether it was compiled now or loaded from the compiled cache.
    pub compiled: CacheOutcome,
    pub(crate) pre: InstancePre<CallState>,
    pub(crate) exports: Exports,
}

impl Plugin {
    /// The plugin's name (from its `describe` export).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Hex sha256 of the component's bytes.
    pub fn digest(&self) -> &str {
        &self.digest_arc
    }

    /// The features it provides, in [`Feature::ALL`]'s order.
    pub fn features(&self) -> Vec<Feature> {
        Feature::ALL
            .into_iter()
            .filter(|&feature| self.provides(feature))
            .collect()
    }

    /// Whether it exports the interface of `feature`.
    pub fn provides(&self, feature: Feature) -> bool {
        let e = &self.exports;
        match feature {
            Feature::Completion => e.completion.is_some(),
            Feature::Refactor => e.refactor.is_some(),
            Feature::Explain => e.explain.is_some(),
        }
    }
}

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{origin}: {source}")]
    NotAComponent {
        origin: Origin,
        source: NotAComponent,
    },
    #[error("{origin}: not loaded: it {}", refused_list(.refused))]
    Refused {
        origin: Origin,
        refused: Vec<Refused>,
    },
    #[error("{origin}: {source}")]
    Compile {
        origin: Origin,
        source: cache::CompileError,
    },
    #[error(
        "{origin}: {message} (plugins may import only `cordon:plugin/*` of a version Cordon runs ({}) and WASI 0.2's cli, clocks, filesystem, io, random and sockets; `cordon plugins check FILE` checks a build)", crate::api::VERSIONS.join(", ")
    )]
    Link { origin: Origin, message: String },
    #[error(
        "{origin}: exports none of `cordon:plugin/completion`, `refactor`, `explain` in a version Cordon runs ({}); build it against a world in Cordon's `wit/{}/`", crate::api::VERSIONS.join(", "), crate::api::LATEST
    )]
    NoFeature { origin: Origin },
    #[error("{origin}: does not export `cordon:plugin/describe` in a version Cordon runs ({}); every plugin world includes it", crate::api::VERSIONS.join(", "))]
    NoDescribe { origin: Origin },
    #[error(
        "{origin}: `describe` failed: {source}; the plugin is not loaded (fix it, or remove it from the plugin folder)"
    )]
    Describe { origin: Origin, source: CallError },
    #[error("{origin}: invalid plugin name {name:?}: use 1-64 lowercase letters, digits and `-`")]
    BadName { origin: Origin, name: String },
}

/// The refused imports of a component, for one line: the first named, the
/// rest counted.
fn refused_list(refused: &[Refused]) -> String {
    match refused {
        [] => String::new(),
        [one] => one.to_string(),
        [first, rest @ ..] => format!(
            "{first} (and {} more import(s) Cordon does not provide: `cordon plugins check` lists them)",
            rest.len()
        ),
    }
}

/// Most capability requests a plugin's `describe` is taken at (there are
/// three capabilities; the rest are dropped).
const MAX_REQUESTS: usize = 16;

/// `field` cut at its first line break and to at most `max` bytes.
fn one_line(field: &mut String, max: usize) {
    if field.len() > max || field.contains('\n') {
        let mut end = field.find('\n').unwrap_or(field.len()).min(max);
        while !field.is_char_boundary(end) {
            end -= 1;
        }
        field.truncate(end);
    }
}

/// Hex sha256 of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
}

impl Runtime {
    /// Load the component in `bytes` with `limits`. What it may do is the
    /// policy's to decide, at every call.
    pub async fn load(
        &self,
        origin: Origin,
        bytes: Vec<u8>,
        limits: Limits,
    ) -> Result<Plugin, LoadError> {
        let digest = digest(&bytes);
        // Too large to compile is said before anything is read of it.
        if bytes.len() > cache::MAX_COMPONENT_BYTES {
            return Err(LoadError::Compile {
                origin,
                source: cache::CompileError::TooLarge {
                    size: bytes.len(),
                    max: cache::MAX_COMPONENT_BYTES,
                },
            });
        }
        // What it imports is read before any compile, which for a large
        // component takes many seconds.
        let surface = check::surface(&bytes).map_err(|source| LoadError::NotAComponent {
            origin: origin.clone(),
            source,
        })?;
        let refused = check::refused_imports(&surface);
        if !refused.is_empty() {
            return Err(LoadError::Refused { origin, refused });
        }
        // Compiling is CPU-heavy and bounded: `cache` does it off the async
        // workers (in a child process when the runtime has one).
        let (component, outcome) = cache::load(
            &self.engine,
            self.cache_dir.as_deref(),
            &bytes,
            &digest,
            &self.compiler,
        )
        .await
        .map_err(|source| LoadError::Compile {
            origin: origin.clone(),
            source,
        })?;
        match outcome {
            CacheOutcome::Cached => {
                tracing::info!(%origin, digest = %digest, "loaded compiled plugin from cache")
            }
            _ => tracing::info!(%origin, digest = %digest, "compiled plugin"),
        }
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Link {
                origin: origin.clone(),
                message: format!("{e:#}"),
            })?;
        let exports = Exports {
            completion: guest::Completion::find(&pre),
            refactor: guest::Refactor::find(&pre),
            explain: guest::Explain::find(&pre),
        };
        if exports.completion.is_none() && exports.refactor.is_none() && exports.explain.is_none() {
            return Err(LoadError::NoFeature { origin });
        }
        let describe = guest::Describe::find(&pre).ok_or_else(|| LoadError::NoDescribe {
            origin: origin.clone(),
        })?;
        let interfaces = component
            .component_type()
            .exports(&self.engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        let provisional = match origin.path() {
            None => "built-in".to_owned(),
            Some(path) => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        let mut plugin = Plugin {
            name: Arc::from(provisional),
            digest_arc: Arc::from(digest),
            info: Info {
                name: String::new(),
                version: String::new(),
                description: String::new(),
                requests: Vec::new(),
            },
            api_version: describe.version(),
            origin,
            interfaces,
            limits,
            compiled: outcome,
            pre,
            exports,
        };
        let info =
            self.describe(&plugin, &describe)
                .await
                .map_err(|source| LoadError::Describe {
                    origin: plugin.origin.clone(),
                    source,
                })?;
        if !valid_name(&info.name) {
            return Err(LoadError::BadName {
                origin: plugin.origin.clone(),
                name: info.name,
            });
        }
        plugin.name = Arc::from(info.name.as_str());
        plugin.info = info;
        Ok(plugin)
    }

    async fn describe(&self, plugin: &Plugin, export: &guest::Describe) -> Result<Info, CallError> {
        let mut call = self.begin(plugin);
        let store = &mut call.store;
        let bound = plugin.limits.wall.min(DESCRIBE_WALL);
        let outcome = tokio::time::timeout(bound, async {
            let instance = plugin.pre.instantiate_async(&mut *store).await?;
            export.describe(store, &instance).await.map(Ok)
        })
        .await;
        let mut info = match call.finish(plugin, outcome) {
            // Said with the bound that applied, not the feature calls' one.
            Err(CallError::WallTimeout { plugin, .. }) => {
                return Err(CallError::WallTimeout {
                    plugin,
                    limit: bound,
                });
            }
            other => other?,
        };
        // Bound what a plugin can make `plugins list` print.
        info.requests.truncate(MAX_REQUESTS);
        for request in &mut info.requests {
            one_line(&mut request.capability, 64);
            one_line(&mut request.why, 200);
        }
        one_line(&mut info.version, 200);
        one_line(&mut info.description, 200);
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_names_are_short_lowercase_words() {
        assert!(valid_name("completion"));
        assert!(valid_name("my-plugin2"));
        assert!(!valid_name(""));
        assert!(!valid_name("-x"));
        assert!(!valid_name("Bad Name"));
        assert!(!valid_name(&"a".repeat(65)));
    }

    #[test]
    fn feature_names_shown_to_users_stay_the_same() {
        use clap::ValueEnum;
        let on_the_command_line: Vec<String> = Feature::value_variants()
            .iter()
            .map(|f| f.to_possible_value().unwrap().get_name().to_owned())
            .collect();
        assert_eq!(on_the_command_line, ["complete", "refactor", "explain"]);
        let in_json = serde_json::to_value(Feature::ALL).unwrap();
        assert_eq!(
            in_json,
            serde_json::json!(["completion", "refactor", "explain"])
        );
        assert_eq!(Feature::Completion.to_string(), "completion");
    }
}
