"""A cloned repository is untrusted input, also in the editor: an unsaved
buffer under an excluded folder is never given to a plugin, and what the
workspace ships is named once, with what to run to use it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from support import SHOP, RawServer

GRANTED = '[plugins."*"]\ncapabilities = ["model", "workspace.read", "log"]\n'


def test_an_unsaved_buffer_under_an_excluded_folder_is_excluded(tmp_path: Path):
    workspace = tmp_path / "shop"
    shutil.copytree(SHOP, workspace)
    policy = tmp_path / "org-policy.toml"
    policy.write_text(GRANTED + '[content]\nexclude = ["secrets/**"]\n')
    server = RawServer(env={"CORDON_ORG_POLICY": str(policy)}, cwd=workspace)
    try:
        server.initialize(root=workspace)
        # Never saved: the folder does not even exist yet.
        unsaved = workspace / "secrets" / "keys.rs"
        text = "pub fn rotate() {\n    let key\n"
        server.notify("textDocument/didOpen", {"textDocument": {
            "uri": unsaved.as_uri(), "languageId": "rust", "version": 1, "text": text,
        }})
        answer = server.request("textDocument/inlineCompletion", {
            "textDocument": {"uri": unsaved.as_uri()},
            "position": {"line": 1, "character": 11},
            "context": {"triggerKind": 1},
        })
        assert "error" in answer, answer
        assert "secrets/keys.rs is excluded by policy" in answer["error"]["message"], answer
        # A buffer outside the excluded folder still completes.
        other = workspace / "src" / "new.rs"
        server.notify("textDocument/didOpen", {"textDocument": {
            "uri": other.as_uri(), "languageId": "rust", "version": 1, "text": text,
        }})
        answer = server.request("textDocument/inlineCompletion", {
            "textDocument": {"uri": other.as_uri()},
            "position": {"line": 1, "character": 11},
            "context": {"triggerKind": 1},
        })
        assert "error" not in answer, answer
    finally:
        server.kill()


def test_the_editor_is_told_what_an_untrusted_workspace_ships(tmp_path: Path):
    workspace = tmp_path / "shop"
    shutil.copytree(SHOP, workspace)
    (workspace / ".cordon").mkdir()
    (workspace / ".cordon" / "policy.toml").write_text(GRANTED)
    server = RawServer(env={"XDG_DATA_HOME": str(tmp_path / "data")}, cwd=workspace)
    try:
        server.initialize(root=workspace)
        deadline = time.monotonic() + 10
        while True:
            messages = [m["message"] for m in server.shown_messages()]
            told = [m for m in messages if "ships a policy" in m]
            if told or time.monotonic() > deadline:
                break
            # Asking something lets the client read what the server sent.
            server.request("cordon/stats", {})
            time.sleep(0.1)
        assert len(told) == 1, messages
        assert "cordon trust" in told[0], told
    finally:
        server.kill()
