"""Plugin folders are followed while `cordon lsp` runs (issue 14, part 4):
a new, changed or removed component takes effect within a second of the
file settling, under a stream of requests none of which is lost or
answered by a mix of builds; a broken build keeps the old one in service
and the editor is told why.

The second build is the hostile test plugin with its answer `hostile-ok`
turned into `hostile-OK` (the same length, in its data section): a valid
component with another digest and a visibly different answer."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from support import SHOP, RawServer, hostile_plugin

CART = SHOP / "src" / "cart.rs"
URI = CART.as_uri()
OLD, NEW = "hostile-ok", "hostile-OK"
# The server loads a change once the folder is quiet for 300 ms; a second
# is the promise, and this machine may be loaded.
TAKES_EFFECT_S = 10.0


def builds(tmp_path: Path) -> tuple[Path, bytes, bytes]:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    old = hostile_plugin().read_bytes()
    assert old.count(OLD.encode()) == 1
    new = old.replace(OLD.encode(), NEW.encode())
    shutil.copy(hostile_plugin(), plugins / "hostile.wasm")
    return plugins, old, new


def replace(path: Path, data: bytes) -> None:
    """Write a new build the way a build tool does: next to it, then renamed."""
    part = path.with_suffix(".part")
    part.write_bytes(data)
    part.rename(path)


def hostile_answers(server: RawServer) -> list[str]:
    """The hostile plugin's completion labels at the end of `cart.rs`."""
    answer = server.request("textDocument/completion", {
        "textDocument": {"uri": URI}, "position": {"line": 0, "character": 0},
    })
    assert "error" not in answer, answer
    result = answer["result"] or []
    items = result["items"] if isinstance(result, dict) else result
    return [i["label"] for i in items if i["label"].startswith("hostile-")]


def until(server: RawServer, want: list[str]) -> list[list[str]]:
    """Ask for completions until the hostile plugin answers `want`; every
    answer seen meanwhile."""
    seen = []
    deadline = time.monotonic() + TAKES_EFFECT_S
    while time.monotonic() < deadline:
        labels = hostile_answers(server)
        seen.append(labels)
        if labels == want:
            return seen
        time.sleep(0.02)
    raise AssertionError(f"the plugin never answered {want}: {seen[-5:]}")


def messages(server: RawServer, method: str) -> list[str]:
    return [m["params"]["message"] for m in server.skipped if m.get("method") == method]


def test_a_new_build_takes_effect_without_a_restart_and_no_answer_mixes_builds(tmp_path):
    plugins, _old, new = builds(tmp_path)
    server = RawServer("--plugin-dir", str(plugins))
    try:
        server.initialize()
        server.notify("textDocument/didOpen", {"textDocument": {
            "uri": URI, "languageId": "rust", "version": 1, "text": "// no marker\n" + CART.read_text(),
        }})
        assert hostile_answers(server) == [OLD]
        replace(plugins / "hostile.wasm", new)
        # A stream of requests across the swap: each is answered, by one
        # build or the other, never by both. (A third-party plugin later
        # than its grace is left out of one answer: that is not a mix.)
        seen = until(server, [NEW])
        assert all(labels in ([OLD], [NEW], []) for labels in seen), seen
        assert server.request("cordon/stats")["result"]["plugins"] == 4
        assert any(f"plugin `hostile` 0.1.0 loaded from {plugins / 'hostile.wasm'}" in m
                   for m in messages(server, "window/logMessage")), server.skipped

        # A broken build: the one before stays, and the editor is told why.
        replace(plugins / "hostile.wasm", b"\0asm\x0d\0\x01\0 not a whole component")
        deadline = time.monotonic() + TAKES_EFFECT_S
        while not any("was not reloaded" in m for m in messages(server, "window/showMessage")):
            assert time.monotonic() < deadline, server.skipped
            assert hostile_answers(server) == [NEW]
        said = next(m for m in messages(server, "window/showMessage") if "was not reloaded" in m)
        assert "the build loaded before (`hostile` 0.1.0) keeps running" in said, said
        assert hostile_answers(server) == [NEW]

        # Removed: it is taken out of service.
        (plugins / "hostile.wasm").unlink()
        deadline = time.monotonic() + TAKES_EFFECT_S
        while server.request("cordon/stats")["result"]["plugins"] != 3:
            assert time.monotonic() < deadline, server.skipped
            time.sleep(0.05)
        assert hostile_answers(server) == []
        # Added again: back in service.
        replace(plugins / "again.wasm", new)
        until(server, [NEW])
        assert server.request("cordon/stats")["result"]["plugins"] == 4
    finally:
        server.kill()


def test_a_plugin_slow_to_load_shows_progress_and_holds_back_no_other(tmp_path):
    # `slow-describe` takes its whole `describe` bound (2 s) to fail to load.
    plugins, _old, _new = builds(tmp_path)
    shutil.copy(hostile_plugin().parent / "cordon_test_slow_describe.wasm", plugins / "slow-describe.wasm")
    server = RawServer("--plugin-dir", str(plugins))
    try:
        server.initialize(wait_for_plugins=False, capabilities={"window": {"workDoneProgress": True}})
        server.notify("textDocument/didOpen", {"textDocument": {
            "uri": URI, "languageId": "rust", "version": 1, "text": "// no marker\n" + CART.read_text(),
        }})
        # The quick plugin serves while the slow one is still loading.
        served_while_loading = False
        deadline = time.monotonic() + TAKES_EFFECT_S
        while server.request("cordon/stats")["result"]["plugins_loading"]:
            assert time.monotonic() < deadline
            if hostile_answers(server) == [OLD]:
                served_while_loading = True
                break
            time.sleep(0.02)
        assert served_while_loading
        # The slow load is shown as progress, once the client made the token.
        deadline = time.monotonic() + TAKES_EFFECT_S
        while not any(m.get("method") == "window/workDoneProgress/create" for m in server.skipped):
            assert time.monotonic() < deadline, server.skipped
            server.request("cordon/stats")
        create = next(m for m in server.skipped if m.get("method") == "window/workDoneProgress/create")
        server.send({"jsonrpc": "2.0", "id": create["id"], "result": None})
        token = create["params"]["token"]
        deadline = time.monotonic() + TAKES_EFFECT_S
        while True:
            progress = [m["params"]["value"] for m in server.skipped
                        if m.get("method") == "$/progress" and m["params"]["token"] == token]
            if any(p["kind"] == "end" for p in progress):
                break
            assert time.monotonic() < deadline, server.skipped
            server.request("cordon/stats")
        assert progress[0]["kind"] == "begin", progress
        assert progress[0]["title"] == "Loading plugin `slow-describe.wasm`…", progress
        server.wait_for_plugins()
        said = [m for m in messages(server, "window/showMessage") if "slow-describe" in m]
        assert said and "`describe` failed" in said[0], said
        assert hostile_answers(server) == [OLD]
    finally:
        server.kill()


def test_a_plugin_folder_made_after_the_start_is_followed(tmp_path):
    plugins = tmp_path / "not-yet"
    server = RawServer("--plugin-dir", str(plugins))
    try:
        server.initialize()
        server.notify("textDocument/didOpen", {"textDocument": {
            "uri": URI, "languageId": "rust", "version": 1, "text": "// no marker\n" + CART.read_text(),
        }})
        assert hostile_answers(server) == []
        plugins.mkdir()
        replace(plugins / "hostile.wasm", hostile_plugin().read_bytes())
        until(server, [OLD])
    finally:
        server.kill()
