"""What editors rely on to behave as a person expects (issue 16): trigger
characters that never turn a space into a word, multi-word items that
insert whole, a status an editor can show, explanations opened as
documents that stay, and completion that keeps working from the offline
model when a remote backend cannot be used, said once."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from support import SHOP, RawServer, server_with_model
from test_streaming import ANSWER, CURSOR, StreamingModel, explain

CART = SHOP / "src" / "cart.rs"
URI = CART.as_uri()
SNIPPETS = {"textDocument": {"completion": {"completionItem": {"snippetSupport": True}}}}
GRANTED = '[plugins."*"]\ncapabilities = ["model", "workspace.read", "log"]\n'


def open_with_for_loop(server: RawServer) -> dict:
    """cart.rs with a new method whose body so far is `for `; the cursor
    after it (the saved cart.rs teaches `for line in other.line_items {`)."""
    lines = CART.read_text().split("\n")
    lines.insert(55, "    fn again(&mut self, other: Cart) {\n        for ")
    server.notify("textDocument/didOpen", {"textDocument": {
        "uri": URI, "languageId": "rust", "version": 1, "text": "\n".join(lines),
    }})
    return {"line": 56, "character": 12}


def type_and_undo(server: RawServer, version: int, position: dict) -> None:
    """Edit the text before `position` and restore it (two versions), so
    that no cached answer is reused."""
    at = {"start": {"line": position["line"], "character": 0}, "end": {"line": position["line"], "character": 0}}
    server.notify("textDocument/didChange", {
        "textDocument": {"uri": URI, "version": 2 * version},
        "contentChanges": [{"range": at, "text": f"/*{version}*/"}],
    })
    undo = {"start": at["start"], "end": {"line": position["line"], "character": len(f"/*{version}*/")}}
    server.notify("textDocument/didChange", {
        "textDocument": {"uri": URI, "version": 2 * version + 1},
        "contentChanges": [{"range": undo, "text": ""}],
    })


def completion_items(server: RawServer, position: dict) -> list[dict]:
    answer = server.request("textDocument/completion", {"textDocument": {"uri": URI}, "position": position})
    assert "result" in answer, answer
    return answer["result"]["items"]


def statuses(server: RawServer) -> list[dict]:
    return [m["params"] for m in server.skipped if m.get("method") == "cordon/status"]


def wait_for(server: RawServer, predicate, what: str, within_s: float = 10.0):
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within_s:.0f} s: {what}; got {server.skipped[-5:]}")
        try:
            server.skipped.append(server.next_message(timeout=0.2))
        except AssertionError:
            pass


def test_only_members_and_paths_trigger_completion():
    server = RawServer()
    try:
        capabilities = server.initialize()["capabilities"]
        assert capabilities["completionProvider"]["triggerCharacters"] == [".", ":"], capabilities
    finally:
        server.kill()


def test_a_multi_word_item_is_a_snippet_that_inserts_exactly_its_text():
    server = RawServer()
    try:
        server.initialize(capabilities=SNIPPETS)
        items = completion_items(server, open_with_for_loop(server))
        whole = [i for i in items if i["label"].startswith("line in other.line_items")]
        assert whole, [i["label"] for i in items]
        assert whole[0]["textEdit"]["newText"] == whole[0]["label"], whole[0]
        # Neovim inserts a plain-text item only up to its first space.
        assert whole[0]["insertTextFormat"] == 2, whole[0]
        single = [i for i in items if " " not in i["textEdit"]["newText"]]
        assert single and all(i["insertTextFormat"] == 1 for i in single), single
    finally:
        server.kill()


def test_without_snippet_support_every_item_is_plain_text():
    server = RawServer()
    try:
        server.initialize()
        items = completion_items(server, open_with_for_loop(server))
        assert any(" " in i["textEdit"]["newText"] for i in items), items
        assert all(i["insertTextFormat"] == 1 for i in items), items
    finally:
        server.kill()


def test_the_status_says_ready_and_names_an_excluded_file(tmp_path: Path):
    policy = tmp_path / "org-policy.toml"
    policy.write_text(GRANTED + '\n[content]\nexclude = ["src/cart.rs"]\n')
    server = RawServer(env={"CORDON_ORG_POLICY": str(policy)})
    try:
        server.initialize()
        wait_for(server, lambda: statuses(server), "a first status")
        assert statuses(server)[0]["state"] == "ready", statuses(server)
        server.notify("textDocument/didOpen", {"textDocument": {
            "uri": URI, "languageId": "rust", "version": 1, "text": CART.read_text(),
        }})
        wait_for(server, lambda: statuses(server)[-1]["state"] == "excluded", "the excluded status")
        excluded = statuses(server)[-1]
        assert excluded["uri"] == URI and "src/cart.rs" in excluded["message"], excluded
        assert "excluded by policy" in excluded["message"], excluded
    finally:
        server.kill()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_backend_is_said_once_and_completion_comes_from_the_offline_model(tmp_path: Path):
    config = tmp_path / "cordon.toml"
    config.write_text(
        '[backends.remote]\nprovider = "openai"\nmodel = "m"\n'
        f'base_url = "http://127.0.0.1:{closed_port()}"\nmax_retries = 0\n'
        '[routes]\ndefault = "remote"\n'
    )
    server = RawServer("--config", str(config))
    try:
        server.initialize()
        position = open_with_for_loop(server)
        for version in range(2, 7):
            items = completion_items(server, position)
            assert any(i["label"].startswith("line") for i in items), items
            # A keystroke typed and taken back: the next completion asks again.
            type_and_undo(server, version, position)
        warnings = [m["message"] for m in server.shown_messages() if m["type"] == 2]
        down = [m for m in warnings if "cannot be used" in m]
        assert len(down) == 1, warnings
        assert "backend `remote`" in down[0] and "offline `local` model" in down[0], down
        wait_for(server, lambda: statuses(server)[-1]["state"] == "unavailable", "the unavailable status")
    finally:
        server.kill()


def test_a_missing_key_does_not_break_completion(tmp_path: Path):
    config = tmp_path / "cordon.toml"
    config.write_text(
        '[backends.claude]\nprovider = "anthropic"\nmodel = "claude-sonnet-4-5"\n'
        'api_key_env = "CORDON_TEST_KEY_THAT_IS_NOT_SET"\n'
        '[routes]\ndefault = "claude"\n'
    )
    server = RawServer("--config", str(config))
    try:
        server.initialize()
        position = open_with_for_loop(server)
        for _ in range(3):
            items = completion_items(server, position)
            assert any(i["label"].startswith("line") for i in items), items
        about_the_key = [m for m in server.shown_messages() if "CORDON_TEST_KEY_THAT_IS_NOT_SET" in m["message"]]
        assert len(about_the_key) == 1, server.shown_messages()
        wait_for(server, lambda: statuses(server) and statuses(server)[-1]["state"] == "unavailable", "unavailable")
        assert "CORDON_TEST_KEY_THAT_IS_NOT_SET" in statuses(server)[-1]["message"], statuses(server)
    finally:
        server.kill()


def test_an_explanation_opens_as_a_markdown_document_titled_in_words(tmp_path: Path):
    model = StreamingModel(pause=0.02)
    capabilities = {"window": {"showDocument": {"support": True}}}
    server = server_with_model(tmp_path, model.url, CART, capabilities=capabilities)
    try:
        explain(server, "explain-doc", "t-doc")
        shown = None
        begin = None
        while True:
            message = server.next_message()
            if message.get("method") == "window/showDocument":
                shown = message["params"]
                server.send({"jsonrpc": "2.0", "id": message["id"], "result": {"success": True}})
            elif message.get("method") == "$/progress" and message["params"]["value"]["kind"] == "begin":
                begin = message["params"]["value"]
            elif message.get("id") == "explain-doc" and "method" not in message:
                response = message
                break
        assert response.get("result") == ANSWER, response
        assert begin and begin["title"] == "Explaining `clear`…", begin
        assert shown and shown["takeFocus"] is True, shown
        path = Path(shown["uri"].removeprefix("file://"))
        assert path.suffix == ".md" and "clear" in path.name, path
        text = path.read_text()
        assert text.startswith("# `clear` (") and ANSWER in text, text
        assert path.stat().st_mode & 0o077 == 0, oct(path.stat().st_mode)
        # Shown as a document: not also as a message.
        assert not [m for m in server.shown_messages() if ANSWER in m["message"]]
    finally:
        server.kill()
        model.close()
