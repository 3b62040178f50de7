//! Registers `cordon lsp` with Zed. Zed runs this as a WebAssembly extension:
//! it only tells Zed which command to start and which settings to pass.

use zed_extension_api::{self as zed, LanguageServerId, Result, settings::LspSettings};

struct Cordon;

impl zed::Extension for Cordon {
    fn new() -> Self {
        Cordon
    }

    /// `cordon lsp`, from `lsp.cordon.binary` in Zed's settings if set, else
    /// from the PATH of the worktree's shell.
    fn language_server_command(
        &mut self,
        _id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<zed::Command> {
        let binary = LspSettings::for_worktree("cordon", worktree)
            .ok()
            .and_then(|s| s.binary);
        let path = binary
            .as_ref()
            .and_then(|b| b.path.clone())
            .or_else(|| worktree.which("cordon"))
            .ok_or_else(|| {
                "`cordon` was not found on PATH: install it (`cargo install --path host` \
                 in a Cordon checkout) or set lsp.cordon.binary.path in Zed's settings"
                    .to_string()
            })?;
        let args = binary
            .as_ref()
            .and_then(|b| b.arguments.clone())
            .unwrap_or_else(|| vec!["lsp".into()]);
        let mut env = worktree.shell_env();
        if let Some(extra) = binary.and_then(|b| b.env) {
            env.extend(extra);
        }
        Ok(zed::Command {
            command: path,
            args,
            env,
        })
    }

    /// `lsp.cordon.initialization_options`, e.g. `{ "cordon": { "debounce_ms": 150 } }`.
    fn language_server_initialization_options(
        &mut self,
        _id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<Option<zed::serde_json::Value>> {
        Ok(LspSettings::for_worktree("cordon", worktree)
            .ok()
            .and_then(|s| s.initialization_options))
    }

    /// `lsp.cordon.settings`, sent on start and on every change.
    fn language_server_workspace_configuration(
        &mut self,
        _id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<Option<zed::serde_json::Value>> {
        Ok(LspSettings::for_worktree("cordon", worktree)
            .ok()
            .and_then(|s| s.settings))
    }
}

zed::register_extension!(Cordon);
