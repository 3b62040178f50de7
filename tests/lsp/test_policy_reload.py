"""The policy files are watched: a valid change applies to the next call, an
invalid one is reported with window/showMessage and the last valid policy
stays in force."""

from __future__ import annotations

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
