"""Refactor actions that need the user's words are offered in the
code-action menu to editor set-ups that ask for them (`ask_instruction`,
set by Cordon's Neovim set-up), as the `cordon.refactor` command the editor
completes with the instruction; to others they are not offered."""

from __future__ import annotations

import shutil

from support import SHOP, RawServer, hostile_plugin

CART = SHOP / "src" / "cart.rs"
URI = CART.as_uri()
TITLE = "Say what you are told…"
RANGE = {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 0}}


def server_for(tmp_path, asks: bool) -> RawServer:
    plugins = tmp_path / f"plugins-{asks}"
    plugins.mkdir()
    shutil.copy(hostile_plugin(), plugins / "hostile.wasm")
    server = RawServer("--plugin-dir", str(plugins))
    server.initialize(
        initializationOptions={"cordon": {"ask_instruction": asks}},
        capabilities={"workspace": {"applyEdit": True}},
    )
    server.notify("textDocument/didOpen", {"textDocument": {
        "uri": URI, "languageId": "rust", "version": 1, "text": "// cordon-test:instruction\n" + CART.read_text(),
    }})
    return server


def actions(server: RawServer) -> list[dict]:
    answer = server.request("textDocument/codeAction", {
        "textDocument": {"uri": URI}, "range": RANGE, "context": {"diagnostics": []},
    })
    assert "error" not in answer, answer
    return answer["result"]


def test_an_action_needing_words_is_offered_to_set_ups_that_ask_and_applied_with_them(tmp_path):
    server = server_for(tmp_path, asks=True)
    try:
        offered = {a["title"]: a for a in actions(server)}
        assert TITLE in offered, list(offered)
        command = offered[TITLE]["command"]
        assert command["command"] == "cordon.refactor"
        args = command["arguments"][0]
        assert args["needs_instruction"] is True and args["action"] == "hostile-say"
        # What the editor's set-up does once the user typed the words.
        server.next_id += 1
        asked = server.next_id
        server.send({"jsonrpc": "2.0", "id": asked, "method": "workspace/executeCommand", "params": {
            "command": "cordon.refactor", "arguments": [dict(args, instruction="hello there")],
        }})
        while True:
            message = server.next_message()
            if message.get("method") == "workspace/applyEdit":
                break
            server.skipped.append(message)
        edits = message["params"]["edit"]["changes"][URI]
        assert [e["newText"] for e in edits] == ["hello there"], edits
        server.send({"jsonrpc": "2.0", "id": message["id"], "result": {"applied": True}})
        assert server.response(asked)["result"] == {"applied": True}
    finally:
        server.kill()


def test_it_is_not_offered_to_editors_that_cannot_ask(tmp_path):
    server = server_for(tmp_path, asks=False)
    try:
        titles = [a["title"] for a in actions(server)]
        assert "Hostile test action" in titles and TITLE not in titles, titles
    finally:
        server.kill()
