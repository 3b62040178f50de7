"""No plugin can stall another request (issue 13, part 1).

The hostile test plugin sleeps 30 s (a blocking WASI clock wait) in every
export when the document holds `cordon-test:sleep`; `slow-describe` sleeps
30 s in `describe`. Timings are never tight: every bound below is several
seconds and far below the plugins' sleep, and what matters is the order in
which answers arrive.
"""

from __future__ import annotations

import shutil
import time

from support import SHOP, RawServer, hostile_plugin

CART = SHOP / "src" / "cart.rs"
URI = CART.as_uri()
SLEEP_S = 30  # tests/plugins/hostile: mode `sleep`; slow-describe's describe
# Far below SLEEP_S, far above what the machine needs even when loaded.
PROMPT_S = 12.0
LATE_LIMIT = 3  # host/src/lsp/stragglers.rs
CALLS_PER_PLUGIN = 8  # host/src/lsp/fanout.rs
REQUEST_CANCELLED = -32800

# `Cart::total_cents`'s method chain, and the end of `self.line_`, with the
# marker line on top (every line one down from cart.rs's own).
CHAIN = {"start": {"line": 37, "character": 8}, "end": {"line": 40, "character": 18}}
LINE_END = {"line": 57, "character": 18}


def plugin_dir(tmp_path, *wasm_names: str):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    built = hostile_plugin().parent
    for name in wasm_names:
        shutil.copy(built / f"cordon_test_{name.replace('-', '_')}.wasm", plugins / f"{name}.wasm")
    return plugins


def open_cart(server: RawServer, marker: str | None) -> None:
    text = CART.read_text()
    if marker is not None:
        text = f"// cordon-test:{marker}\n{text}"
    else:
        text = f"// no marker\n{text}"
    server.notify("textDocument/didOpen", {"textDocument": {
        "uri": URI, "languageId": "rust", "version": 1, "text": text,
    }})


def code_actions(server: RawServer, timeout: float = PROMPT_S) -> list[str]:
    server.next_id += 1
    server.send({"jsonrpc": "2.0", "id": server.next_id, "method": "textDocument/codeAction", "params": {
        "textDocument": {"uri": URI}, "range": CHAIN, "context": {"diagnostics": []},
    }})
    answer = server.response(server.next_id, timeout=timeout)
    assert "error" not in answer, answer
    return [action["title"] for action in answer["result"]]


def logged(server: RawServer) -> list[str]:
    return [m["params"]["message"] for m in server.skipped if m.get("method") == "window/logMessage"]


# The built-in refactor actions need a chat backend; with none they are
# offered disabled (with the reason) to clients that can show that.
SHOWS_DISABLED = {"textDocument": {"codeAction": {"disabledSupport": True}}}


def test_a_refactor_plugin_sleeping_in_actions_does_not_hold_back_the_builtin_ones(tmp_path):
    server = RawServer("--plugin-dir", str(plugin_dir(tmp_path, "hostile")))
    try:
        server.initialize(capabilities=SHOWS_DISABLED)
        # Awake, the hostile plugin's action is offered beside the built-in ones.
        open_cart(server, None)
        titles = code_actions(server)
        assert "Hostile test action" in titles and "Extract function" in titles, titles
        server.notify("textDocument/didClose", {"textDocument": {"uri": URI}})

        open_cart(server, "sleep")
        for attempt in range(LATE_LIMIT):
            started = time.monotonic()
            titles = code_actions(server)
            took = time.monotonic() - started
            # The built-in actions came without the sleeper's, long before its sleep ended.
            assert "Extract function" in titles, titles
            assert "Hostile test action" not in titles, titles
            assert took < PROMPT_S, took
        stats = server.request("cordon/stats")["result"]
        assert stats["late_actions"] == LATE_LIMIT, stats
        # Late three times in a row: benched, and the editor's log says which plugin.
        assert any("refactor plugin `hostile`" in m and "too slow" in m for m in logged(server)), logged(server)
        titles = code_actions(server)
        assert "Extract function" in titles, titles
        assert server.request("cordon/stats")["result"]["benched_skips"] >= 1
    finally:
        server.kill()


def test_with_slow_requests_in_flight_a_completion_is_answered_first(tmp_path):
    server = RawServer("--plugin-dir", str(plugin_dir(tmp_path, "hostile")))
    try:
        server.initialize()
        open_cart(server, "sleep")
        # Eight resolves of the sleeper's action (each sleeps 30 s in `apply`),
        # more than tower-lsp-server's default of four requests at a time.
        slow = []
        for _ in range(CALLS_PER_PLUGIN):
            server.next_id += 1
            slow.append(server.next_id)
            server.send({"jsonrpc": "2.0", "id": server.next_id, "method": "codeAction/resolve", "params": {
                "title": "Hostile test action", "kind": "refactor.rewrite",
                "data": {"uri": URI, "range": CHAIN, "version": 1, "plugin": "hostile", "id": "hostile-ok"},
            }})
        # One more call of the sleeper is refused at once, not queued.
        server.next_id += 1
        refused = server.next_id
        server.send({"jsonrpc": "2.0", "id": refused, "method": "codeAction/resolve", "params": {
            "title": "Hostile test action", "kind": "refactor.rewrite",
            "data": {"uri": URI, "range": CHAIN, "version": 1, "plugin": "hostile", "id": "hostile-ok"},
        }})
        server.next_id += 1
        completion = server.next_id
        server.send({"jsonrpc": "2.0", "id": completion, "method": "textDocument/completion", "params": {
            "textDocument": {"uri": URI}, "position": LINE_END,
        }})
        answered = []
        deadline = time.monotonic() + PROMPT_S
        while completion not in answered or refused not in answered:
            message = server.next_message(timeout=max(0.1, deadline - time.monotonic()))
            if "method" in message:
                server.skipped.append(message)
                continue
            answered.append(message["id"])
            if message["id"] == completion:
                labels = [item["label"] for item in message["result"]["items"]]
                assert labels and labels[0].startswith("line_items"), labels
                assert "slept" not in labels, labels
            if message["id"] == refused:
                # Refused at once: nothing to apply, and the user is told why.
                assert "edit" not in message["result"], message
                assert any(
                    "still running" in m["message"] for m in server.shown_messages() if m["type"] == 1
                ), server.shown_messages()
        # The completion came while every slow request was still in flight.
        assert not set(slow) & set(answered), answered
        assert refused in answered, answered
        # Cancelled, each slow request still gets its answer: nothing is lost.
        for msg_id in slow:
            server.notify("$/cancelRequest", {"id": msg_id})
        pending = set(slow)
        deadline = time.monotonic() + PROMPT_S
        while pending:
            message = server.next_message(timeout=max(0.1, deadline - time.monotonic()))
            if "method" in message:
                continue
            assert message["id"] in pending, message
            assert message["error"]["code"] == REQUEST_CANCELLED, message
            pending.discard(message["id"])
    finally:
        server.kill()


def test_a_plugin_sleeping_in_describe_does_not_delay_initialize(tmp_path):
    server = RawServer("--plugin-dir", str(plugin_dir(tmp_path, "slow-describe", "hostile")))
    try:
        started = time.monotonic()
        server.initialize(wait_for_plugins=False)
        assert time.monotonic() - started < PROMPT_S
        open_cart(server, None)
        answer = server.request("textDocument/completion", {"textDocument": {"uri": URI}, "position": LINE_END})
        labels = [item["label"] for item in answer["result"]["items"]]
        assert labels[0].startswith("line_items"), labels
        # Its describe is cut at its own short bound; the other plugin loads.
        stats = server.wait_for_plugins(within_s=PROMPT_S)
        assert time.monotonic() - started < SLEEP_S - 5
        warnings = [m["message"] for m in server.shown_messages() if m["type"] == 2]
        assert any("slow-describe" in m and "did not finish within 2s" in m for m in warnings), warnings
        # Loaded now, it answers; a first call on a loaded machine may miss
        # the stragglers' grace, which costs it that answer only (a plugin
        # is benched after LATE_LIMIT late calls in a row).
        for _ in range(LATE_LIMIT - 1):
            answer = server.request("textDocument/completion", {"textDocument": {"uri": URI}, "position": LINE_END})
            labels = [item["label"] for item in answer["result"]["items"]]
            if "hostile-ok" in labels:
                break
        assert "hostile-ok" in labels and "slow-describe-ok" not in labels, labels
        assert stats["plugins"] >= 4, stats  # three built-in, and hostile
    finally:
        server.kill()
