"""The policy files are watched: a valid change applies to the next call, an
invalid one is reported with window/showMessage and the last valid policy
stays in force."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

from support import SHOP, RawServer

CART = SHOP / "src" / "cart.rs"
LINE, CHARACTER = 56, 18  # `        self.line_|`

GRANTED = '[plugins."*"]\ncapabilities = ["model", "workspace.read", "log"]\n'
DENIED = '[plugins."*"]\ncapabilities = ["log"]\n'


def complete(server: RawServer) -> dict:
    return server.request("textDocument/inlineCompletion", {
        "textDocument": {"uri": CART.as_uri()},
        "position": {"line": LINE, "character": CHARACTER},
        "context": {"triggerKind": 1},
    })


def eventually(server: RawServer, predicate, seconds: float = 10.0) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        answer = complete(server)
        if predicate(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def test_policy_changes_apply_and_bad_ones_are_reported(tmp_path: Path):
    policy = tmp_path / "org-policy.toml"
    policy.write_text(GRANTED)
    server = RawServer(env={"CORDON_ORG_POLICY": str(policy)})
    try:
        server.initialize()
        server.notify("textDocument/didOpen", {"textDocument": {
            "uri": CART.as_uri(), "languageId": "rust", "version": 1, "text": CART.read_text(),
        }})
        granted = complete(server)
        assert granted["result"]["items"][0]["insertText"].startswith("items"), granted

        policy.write_text(DENIED)
        denied = eventually(server, lambda a: "error" in a)
        assert "error" in denied, f"the narrowed policy did not apply: {denied}"
        assert "may not use capability `model`" in denied["error"]["message"], denied

        policy.write_text('[plugins."*"]\ncapabilities = ["model", "telepathy"]\n')
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
            "policy" in m["message"] for m in server.shown_messages()
        ):
            server.request("cordon/stats")
            time.sleep(0.2)
        errors = [m for m in server.shown_messages() if "policy" in m["message"]]
        assert errors and errors[0]["type"] == 1, server.shown_messages()
        assert "telepathy" in errors[0]["message"]
        still = complete(server)
        assert "error" in still, f"an invalid policy must not widen anything: {still}"
    finally:
        server.kill()


VAULT = 'const VAULT_KEY: &str = "zq9-never-suggest-me";\n'


def copy_of_shop(tmp_path: Path) -> Path:
    workspace = tmp_path / "shop"
    shutil.copytree(SHOP, workspace)
    return workspace


def start_with_org_policy(tmp_path: Path, workspace: Path, text: str) -> tuple[RawServer, Path]:
    """`cordon lsp` on `workspace`, initialized, with an organisation policy
    file holding `text`; the server and that file."""
    policy = tmp_path / "org-policy.toml"
    policy.write_text(text)
    server = RawServer(env={"CORDON_ORG_POLICY": str(policy)}, cwd=workspace)
    server.initialize(root=workspace)
    return server, policy


def test_the_local_model_forgets_what_the_policy_excludes(tmp_path: Path):
    """Content learnt by the built-in local model from a file that a reloaded
    policy excludes, or from an excluded file created later, is never
    proposed."""
    workspace = copy_of_shop(tmp_path)
    (workspace / "src" / "vault.rs").write_text(VAULT * 3)
    server, policy = start_with_org_policy(tmp_path, workspace, GRANTED)
    try:
        doc = workspace / "src" / "lib.rs"
        text = doc.read_text() + "\nconst VAULT_KEY: &str = "
        server.notify("textDocument/didOpen", {"textDocument": {
            "uri": doc.as_uri(), "languageId": "rust", "version": 1, "text": text,
        }})
        line = text.count("\n")
        position = {"line": line, "character": len(text.rsplit("\n", 1)[1])}

        def proposals() -> list[str]:
            answer = server.request("textDocument/inlineCompletion", {
                "textDocument": {"uri": doc.as_uri()}, "position": position, "context": {"triggerKind": 1},
            })
            return [item["insertText"] for item in answer["result"]["items"]]

        assert any("zq9-never-suggest-me" in p for p in proposals()), "the fixture does not teach the model"

        policy.write_text(GRANTED + '\n[content]\nexclude = ["src/vault.rs", "src/later/**"]\n')
        deadline = time.monotonic() + 10
        while any("zq9" in p for p in proposals()):
            assert time.monotonic() < deadline, "the reloaded policy's exclusion was not applied"
            time.sleep(0.2)

        # An excluded file created after start is not learnt either, while a
        # file that is not excluded is.
        (workspace / "src" / "later").mkdir()
        (workspace / "src" / "later" / "vault2.rs").write_text(VAULT.replace("zq9", "zq8") * 3)
        (workspace / "src" / "notes.rs").write_text('const NOTE: &str = "kept-and-learnt";\n' * 3)
        text2 = text + "\nconst NOTE: &str = "
        server.notify("textDocument/didChange", {
            "textDocument": {"uri": doc.as_uri(), "version": 2}, "contentChanges": [{"text": text2}],
        })
        position = {"line": text2.count("\n"), "character": len(text2.rsplit("\n", 1)[1])}
        deadline = time.monotonic() + 10
        while not any("kept-and-learnt" in p for p in proposals()):
            assert time.monotonic() < deadline, "the watcher did not pick up a new file"
            time.sleep(0.2)
        server.notify("textDocument/didChange", {
            "textDocument": {"uri": doc.as_uri(), "version": 3}, "contentChanges": [{"text": text}],
        })
        position = {"line": line, "character": len(text.rsplit("\n", 1)[1])}
        assert not any("zq8" in p or "zq9" in p for p in proposals())
    finally:
        server.kill()


def test_a_policy_saved_in_place_never_applies_half_written(tmp_path: Path):
    """Editors save by truncating the file and then writing it: the empty
    file in between must never be read as the organisation's policy (here it
    would let the workspace layer's grant stand alone)."""
    workspace = copy_of_shop(tmp_path)
    (workspace / ".cordon").mkdir()
    (workspace / ".cordon" / "policy.toml").write_text(GRANTED)
    server, policy = start_with_org_policy(tmp_path, workspace, DENIED)
    try:
        cart = workspace / "src" / "cart.rs"
        server.notify("textDocument/didOpen", {"textDocument": {
            "uri": cart.as_uri(), "languageId": "rust", "version": 1, "text": cart.read_text(),
        }})

        def answered() -> bool:
            answer = server.request("textDocument/inlineCompletion", {
                "textDocument": {"uri": cart.as_uri()},
                "position": {"line": LINE, "character": CHARACTER},
                "context": {"triggerKind": 1},
            })
            return "error" not in answer

        assert not answered(), "the organisation's denial is not in force"

        def save_in_place() -> None:
            with open(policy, "w") as f:  # truncates
                f.flush()
                os.fsync(f.fileno())
                time.sleep(0.02)  # the editor is still writing
                f.write(DENIED)

        for _ in range(3):
            writer = threading.Thread(target=save_in_place)
            writer.start()
            while writer.is_alive():
                assert not answered(), "a half-written policy was applied"
            writer.join()
        time.sleep(0.2)
        assert not answered()
    finally:
        server.kill()
