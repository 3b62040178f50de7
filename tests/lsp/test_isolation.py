"""A third-party completion plugin that spins on every call: the built-in
plugin's answer still arrives, the spinner is dropped, and once it has been
late a few times in a row it is benched (not called for a while)."""

from __future__ import annotations

import shutil

from support import SHOP, RawServer, hostile_plugin

CART = SHOP / "src" / "cart.rs"
# `        self.line_` (1-based line 57): the cursor at its end.
LINE = 56
LATE_LIMIT = 3  # host/src/lsp/server.rs


def test_a_plugin_that_is_always_late_is_benched(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    shutil.copy(hostile_plugin(), plugins / "hostile.wasm")
    lines = CART.read_text().split("\n")
    # The hostile plugin spins when its prefix holds this marker.
    lines.insert(LINE, "        // cordon-test:loop")
    text = "\n".join(lines)
    line = LINE + 1
    server = RawServer("--plugin-dir", str(plugins))
    try:
        server.initialize()
        assert not any("hostile" in m["message"] for m in server.shown_messages()), server.shown_messages()
        server.notify("textDocument/didOpen", {"textDocument": {
            "uri": CART.as_uri(), "languageId": "rust", "version": 1, "text": text,
        }})
        column = len(lines[line])
        for version in range(2, 10):
            # One typed character each time: a new context, never a cached answer.
            server.notify("textDocument/didChange", {
                "textDocument": {"uri": CART.as_uri(), "version": version},
                "contentChanges": [{"range": {"start": {"line": line, "character": column},
                                              "end": {"line": line, "character": column}}, "text": "s"}],
            })
            column += 1
            answer = server.request("textDocument/completion", {
                "textDocument": {"uri": CART.as_uri()},
                "position": {"line": line, "character": column},
            })
            assert "error" not in answer, answer
            result = answer["result"] or []
            labels = [item["label"] for item in (result["items"] if isinstance(result, dict) else result)]
            assert "hostile-ok" not in labels, labels
        stats = server.request("cordon/stats")["result"]
        # Eight requests: the spinner was dropped as a straggler in the first
        # LATE_LIMIT, then benched: not called (nor waited for) at all.
        assert stats["stragglers_dropped"] == LATE_LIMIT, stats
        assert stats["benched_skips"] == 8 - LATE_LIMIT, stats
        logged = [m["params"]["message"] for m in server.skipped if m.get("method") == "window/logMessage"]
        assert any("`hostile`" in m and "too slow" in m for m in logged), logged
    finally:
        server.kill()
