//! What a component imports and exports, read from its bytes before any
//! compile: a plugin that imports something Cordon does not provide is
//! refused in milliseconds, with the import named and the reason, instead of
//! after a compile of half a minute (Python, JavaScript) with a linker error.

use wasmparser::{Encoding, Parser, Payload};

/// The latest version of the plugin API, the one new plugins build against;
/// [`crate::api::VERSIONS`] are all the versions this build runs.
pub const API_VERSION: &str = crate::api::LATEST;

/// The interfaces of `cordon:plugin` a plugin may import, and what each
/// gives.
const CORDON_IMPORTS: &[(&str, &str)] = &[
    ("types", "the shared types"),
    ("model", "a language model, where the policy grants `model`"),
    (
        "workspace",
        "the workspace's files, where the policy grants `workspace.read`",
    ),
    ("log", "log lines, where the policy grants `log`"),
];

fn cordon_import_names() -> String {
    CORDON_IMPORTS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The feature interfaces a plugin can export, and `describe`.
const CORDON_EXPORTS: &[&str] = &["describe", "completion", "refactor", "explain"];

/// WASI 0.2 as the sandbox links it (`wasmtime_wasi::p2`), package by
/// package, with why a plugin gets it. Every call still runs under the
/// call's WASI context: no folders, no environment, no network.
const WASI: &[(&str, &[&str], &str)] = &[
    (
        "io",
        &["error", "poll", "streams"],
        "streams for stdout and stderr",
    ),
    ("clocks", &["wall-clock", "monotonic-clock"], "clocks"),
    (
        "random",
        &["random", "insecure", "insecure-seed"],
        "random numbers (hash seeds)",
    ),
    (
        "cli",
        &[
            "environment",
            "exit",
            "stdin",
            "stdout",
            "stderr",
            "terminal-input",
            "terminal-output",
            "terminal-stdin",
            "terminal-stdout",
            "terminal-stderr",
        ],
        "stdio, captured into Cordon's log; the environment is empty",
    ),
    (
        "filesystem",
        &["types", "preopens"],
        "linked for language runtimes, but no folder is opened: files come through `cordon:plugin/workspace`",
    ),
    (
        "sockets",
        &[
            "network",
            "instance-network",
            "tcp",
            "tcp-create-socket",
            "udp",
            "udp-create-socket",
            "ip-name-lookup",
        ],
        "linked for language runtimes, but every socket is refused",
    ),
];

/// The top-level imports and exports of a component.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Surface {
    /// Import names, e.g. `cordon:plugin/model@0.2.0`.
    pub imports: Vec<String>,
    /// Export names, e.g. `cordon:plugin/completion@0.2.0`.
    pub exports: Vec<String>,
}

/// Why bytes are not a component Cordon can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAComponent {
    #[error(
        "is a core WebAssembly module, not a component: build it for `wasm32-wasip2` (`cargo build --release --target wasm32-wasip2`), or wrap it with `wasm-tools component new`"
    )]
    CoreModule,
    #[error("is not WebAssembly (no `\\0asm` header); give the `.wasm` component your build wrote")]
    NotWasm,
    #[error("is not a valid WebAssembly component: {0}")]
    Malformed(String),
    #[error(
        "uses the component model's async ABI ({0}), which Cordon does not run: build it synchronous (componentize-qjs: `--sync`)"
    )]
    AsyncAbi(String),
}

/// An import Cordon does not provide, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The import's name.
    pub import: String,
    /// Why it is not provided, and what to do.
    pub why: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "imports `{}`: {}", self.import, self.why)
    }
}

/// Read the top-level imports and exports of `bytes`, without validating
/// or compiling the code.
pub fn surface(bytes: &[u8]) -> Result<Surface, NotAComponent> {
    if !bytes.starts_with(b"\0asm") {
        return Err(NotAComponent::NotWasm);
    }
    let mut surface = Surface::default();
    // Nested modules and components have their own sections: only depth 0
    // is the plugin's surface.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| NotAComponent::Malformed(e.to_string()))?;
        match payload {
            Payload::Version {
                encoding: Encoding::Module,
                ..
            } if depth == 0 => return Err(NotAComponent::CoreModule),
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    let import = import.map_err(|e| NotAComponent::Malformed(e.to_string()))?;
                    surface.imports.push(import.name.name.to_owned());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 0 => {
                for export in reader {
                    let export = export.map_err(|e| NotAComponent::Malformed(e.to_string()))?;
                    surface.exports.push(export.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(surface)
}

/// Validate `bytes` as a component: with every feature the parser knows,
/// then without the component model's async ABI, which the engine does not
/// enable (so that a build using it is told so, not "invalid").
pub fn validate(bytes: &[u8]) -> Result<(), NotAComponent> {
    use wasmparser::{Validator, WasmFeatures};
    Validator::new_with_features(WasmFeatures::all())
        .validate_all(bytes)
        .map_err(|e| NotAComponent::Malformed(e.to_string()))?;
    let sync = WasmFeatures::all()
        - WasmFeatures::CM_ASYNC
        - WasmFeatures::CM_ASYNC_STACKFUL
        - WasmFeatures::CM_MORE_ASYNC_BUILTINS
        - WasmFeatures::CM_THREADING;
    Validator::new_with_features(sync)
        .validate_all(bytes)
        .map(drop)
        .map_err(|e| NotAComponent::AsyncAbi(e.to_string()))
}

/// `namespace:package/interface@version` split into its parts.
fn parts(name: &str) -> Option<(&str, &str, &str, Option<&str>)> {
    let (path, version) = match name.split_once('@') {
        Some((path, version)) => (path, Some(version)),
        None => (name, None),
    };
    let (package, interface) = path.split_once('/')?;
    let (namespace, package) = package.split_once(':')?;
    Some((namespace, package, interface, version))
}

/// Whether a version is compatible with `major.minor` under the component
/// model's semver rule for 0.x (the minor version is the breaking one).
fn compatible(version: Option<&str>, major_minor: &str) -> bool {
    version.is_some_and(|v| v == major_minor || v.starts_with(&format!("{major_minor}.")))
}

/// `0.2` of `0.2.0`.
fn major_minor(version: &str) -> &str {
    version.rsplit_once('.').map_or(version, |(mm, _)| mm)
}

/// Whether `version` is one of the plugin API versions this build runs.
fn runs(version: Option<&str>) -> bool {
    crate::api::VERSIONS
        .iter()
        .any(|v| compatible(version, major_minor(v)))
}

/// `0.2.0 or 0.1.0`.
fn versions_run() -> String {
    crate::api::VERSIONS.join(" or ")
}

/// Why Cordon does not provide the import `name`; `None` when it does.
pub fn import_refused(name: &str) -> Option<String> {
    let Some((namespace, package, interface, version)) = parts(name) else {
        return Some(
            "is not an interface of a package (a bare function or instance import); plugins may import only `cordon:plugin` and WASI 0.2 interfaces".to_owned(),
        );
    };
    match (namespace, package) {
        ("cordon", "plugin") => {
            if !CORDON_IMPORTS.iter().any(|(name, _)| *name == interface) {
                return Some(format!(
                    "`cordon:plugin` has no importable interface `{interface}`; the imports are {}",
                    cordon_import_names()
                ));
            }
            if !runs(version) {
                return Some(format!(
                    "this Cordon runs `cordon:plugin` {}, not {}; build the plugin against `cordon:plugin@{API_VERSION}` (or update Cordon)",
                    versions_run(),
                    version.unwrap_or("an unversioned package"),
                ));
            }
            None
        }
        ("wasi", "http") => Some(
            "Cordon gives plugins no HTTP: a plugin reaches a model only through `cordon:plugin/model`, where the policy decides. Build without it (componentize-js: `--disable http --disable fetch-event`; Rust: do not depend on an HTTP client)".to_owned(),
        ),
        ("wasi", package) => {
            let Some((_, interfaces, _)) = WASI.iter().find(|(p, _, _)| *p == package) else {
                return Some(format!(
                    "WASI `{package}` is not provided; plugins get WASI 0.2's {}",
                    WASI.iter().map(|(p, _, _)| *p).collect::<Vec<_>>().join(", ")
                ));
            };
            if !compatible(version, "0.2") {
                return Some(format!(
                    "only WASI 0.2 is provided (version {}); build for `wasm32-wasip2`",
                    version.unwrap_or("none")
                ));
            }
            if !interfaces.contains(&interface) {
                return Some(format!(
                    "WASI 0.2 `{package}` is provided without `{interface}`"
                ));
            }
            None
        }
        _ => Some(format!(
            "`{namespace}:{package}` is not provided; plugins may import only `cordon:plugin` ({}) and WASI 0.2",
            cordon_import_names()
        )),
    }
}

/// Every import of `surface` that Cordon does not provide.
pub fn refused_imports(surface: &Surface) -> Vec<Refused> {
    surface
        .imports
        .iter()
        .filter_map(|import| {
            import_refused(import).map(|why| Refused {
                import: import.clone(),
                why,
            })
        })
        .collect()
}

/// What a provided import gives the plugin, for `cordon plugins check`.
pub fn provided(import: &str) -> Option<&'static str> {
    if import_refused(import).is_some() {
        return None;
    }
    let (namespace, package, interface, _) = parts(import)?;
    match namespace {
        "cordon" => CORDON_IMPORTS
            .iter()
            .find(|(name, _)| *name == interface)
            .map(|(_, why)| *why),
        _ => WASI
            .iter()
            .find(|(p, _, _)| *p == package)
            .map(|(_, _, why)| *why),
    }
}

/// The plugin kinds `surface` exports (`completion`, `refactor`,
/// `explain`), and whether it exports `describe`, at a version this build
/// runs.
pub fn exported_kinds(surface: &Surface) -> (Vec<&'static str>, bool) {
    let exported = |interface: &str| {
        surface.exports.iter().any(|name| {
            parts(name).is_some_and(|(ns, pkg, i, version)| {
                ns == "cordon" && pkg == "plugin" && i == interface && runs(version)
            })
        })
    };
    let kinds = CORDON_EXPORTS[1..]
        .iter()
        .copied()
        .filter(|kind| exported(kind))
        .collect();
    (kinds, exported(CORDON_EXPORTS[0]))
}

/// The plugin API version `surface`'s `describe` export is of (`0.1.0`,
/// `0.2.0`), if it has one this build runs.
pub fn exported_version(surface: &Surface) -> Option<&str> {
    surface.exports.iter().find_map(|name| {
        let (ns, pkg, interface, version) = parts(name)?;
        (ns == "cordon" && pkg == "plugin" && interface == CORDON_EXPORTS[0] && runs(version))
            .then_some(version)
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plugin_api_and_wasi_0_2_are_provided() {
        for name in [
            "cordon:plugin/model@0.1.0",
            "cordon:plugin/log@0.1.0",
            "cordon:plugin/model@0.2.0",
            "cordon:plugin/workspace@0.2.0",
            "wasi:cli/environment@0.2.0",
            "wasi:io/streams@0.2.6",
            "wasi:sockets/tcp@0.2.12",
        ] {
            assert_eq!(import_refused(name), None, "{name}");
        }
    }

    #[test]
    fn http_is_refused_with_what_to_do() {
        let why = import_refused("wasi:http/outgoing-handler@0.2.3").unwrap();
        assert!(why.contains("no HTTP"), "{why}");
        assert!(why.contains("--disable http"), "{why}");
    }

    #[test]
    fn other_versions_and_packages_are_refused_with_the_one_provided() {
        let why = import_refused("cordon:plugin/model@0.3.0").unwrap();
        assert!(
            why.contains("runs `cordon:plugin` 0.2.0 or 0.1.0, not 0.3.0"),
            "{why}"
        );
        assert!(
            why.contains("build the plugin against `cordon:plugin@0.2.0`"),
            "{why}"
        );
        let why = import_refused("wasi:cli/environment@0.3.0").unwrap();
        assert!(why.contains("only WASI 0.2"), "{why}");
        let why = import_refused("wasi:keyvalue/store@0.2.0").unwrap();
        assert!(why.contains("`keyvalue` is not provided"), "{why}");
        let why = import_refused("acme:net/fetch@1.0.0").unwrap();
        assert!(why.contains("`acme:net` is not provided"), "{why}");
        assert!(import_refused("fetch").is_some());
    }

    #[test]
    fn a_core_module_is_told_to_build_a_component() {
        // The smallest core module: header and version 1.
        let module = b"\0asm\x01\0\0\0";
        assert_eq!(surface(module), Err(NotAComponent::CoreModule));
        assert!(
            NotAComponent::CoreModule
                .to_string()
                .contains("wasm32-wasip2")
        );
        assert_eq!(surface(b"hello"), Err(NotAComponent::NotWasm));
    }

    #[test]
    fn the_built_in_plugins_import_only_what_is_provided() {
        for plugin in crate::builtin::PLUGINS {
            let surface = surface(plugin.wasm).unwrap();
            assert_eq!(refused_imports(&surface), [], "{}", plugin.name);
            let (kinds, describe) = exported_kinds(&surface);
            assert!(describe, "{}", plugin.name);
            assert_eq!(kinds, [plugin.name], "{}", plugin.name);
            validate(plugin.wasm).unwrap();
        }
    }
}
