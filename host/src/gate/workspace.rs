//! The `workspace` interface: reading and listing the files the policy
//! lets the plugin see, with paths resolved before they are decided so
//! that `..` and symbolic links cannot dodge an exclusion.

use std::sync::Arc;

use super::{Capability, Gate, Refusal};
use crate::api::PluginError;
use crate::api::cordon::plugin::workspace;
use crate::workspace::WorkspaceError;

/// Most files one `list-files` call returns.
const MAX_LIST: u32 = 10_000;

impl workspace::Host for Gate {
    async fn read_file(&mut self, path: String) -> Result<String, Refusal> {
        self.check(Capability::WorkspaceRead, &path)?;
        let services = self.services();
        let ws = services.workspace().ok_or_else(no_workspace)?;
        let resolved = ws
            .resolve(&path)
            .map(|p| ws.relative(&p))
            .map_err(workspace_error)?
            .ok_or_else(|| PluginError::Denied(format!("`{path}` is outside the workspace")))?;
        let decision = services.policy.read(self.ledger.plugin(), &resolved);
        self.ledger
            .decided("workspace.read", &resolved, decision, |_| {})?;
        Ok(ws.read(&resolved).map_err(workspace_error)?)
    }

    async fn list_files(&mut self, glob: String, limit: u32) -> Result<Vec<String>, Refusal> {
        self.check(Capability::WorkspaceRead, &glob)?;
        let services = self.services();
        let ws = services.workspace().ok_or_else(no_workspace)?.clone();
        let limit = limit.min(MAX_LIST) as usize;
        let policy = Arc::clone(&services.policy);
        let plugin: Arc<str> = self.ledger.plugin().into();
        // Walking a large tree blocks; keep it off the async workers (it is
        // host work all the same). Files the plugin may not read are not
        // listed either.
        let listed = tokio::task::spawn_blocking(move || {
            ws.list(&glob, usize::MAX).map(|all| {
                all.into_iter()
                    .filter(|rel| policy.read(&plugin, rel).allowed)
                    .take(limit)
                    .collect::<Vec<_>>()
            })
        })
        .await?;
        Ok(listed.map_err(workspace_error)?)
    }
}

fn no_workspace() -> PluginError {
    PluginError::Unavailable("no workspace is open".into())
}

fn workspace_error(err: WorkspaceError) -> PluginError {
    match err {
        WorkspaceError::Outside(_) => PluginError::Denied(err.to_string()),
        WorkspaceError::Io { .. } => PluginError::Unavailable(err.to_string()),
        _ => PluginError::InvalidRequest(err.to_string()),
    }
}
