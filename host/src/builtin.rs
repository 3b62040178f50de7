//! The first-party plugins, built from `plugins/` by the build script and
//! carried inside the binary so that `cargo install` yields a working
//! program.

/// A first-party plugin component.
pub struct Builtin {
    /// The plugin's name.
    pub name: &'static str,
    /// The component's bytes.
    pub wasm: &'static [u8],
}

/// Cordon's own plugins.
pub const PLUGINS: &[Builtin] = &[
    Builtin {
        name: "completion",
        wasm: include_bytes!(concat!(env!("OUT_DIR"), "/plugins/completion.wasm")),
    },
    Builtin {
        name: "refactor",
        wasm: include_bytes!(concat!(env!("OUT_DIR"), "/plugins/refactor.wasm")),
    },
    Builtin {
        name: "explain",
        wasm: include_bytes!(concat!(env!("OUT_DIR"), "/plugins/explain.wasm")),
    },
];
