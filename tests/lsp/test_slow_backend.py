"""Cancellation with a slow model: a loopback OpenAI-compatible server that
answers after a delay stands in for the remote model. A cancel (or a newer
request) must stop the call, drop the HTTP request, and never produce a late
answer."""

from __future__ import annotations

import http.server
import json
import time
from pathlib import Path

from support import SHOP, RawServer, serve_http, server_with_model

CART = SHOP / "src" / "cart.rs"
# `        self.line_` (1-based line 57): the cursor at its end.
LINE, CHARACTER = 56, 18


class SlowModel:
    """`POST /v1/completions` answered after `delay` seconds; records each
    request and whether its client went away before the answer."""

    def __init__(self, delay: float) -> None:
        self.requests: list[dict] = []
        self.dropped = 0
        model = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                model.requests.append(json.loads(body))
                deadline = time.monotonic() + delay
                # Poll the socket while "thinking": a closed connection reads
                # as end of file.
                self.connection.settimeout(0.05)
                while time.monotonic() < deadline:
                    try:
                        if self.connection.recv(1, 2) == b"":  # MSG_PEEK
                            model.dropped += 1
                            return
                    except TimeoutError:
                        pass
                    except OSError:
                        model.dropped += 1
                        return
                self.connection.settimeout(None)
                answer = json.dumps({
                    "id": "x", "object": "text_completion", "model": "slow",
                    "choices": [{"index": 0, "text": "items.clear();", "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server, self.url = serve_http(Handler)

    def close(self) -> None:
        self.server.shutdown()


def start(tmp_path: Path, model: SlowModel) -> RawServer:
    return server_with_model(tmp_path, model.url, CART, timeout_ms=20000)


def inline(server: RawServer, msg_id: str) -> None:
    server.send({"jsonrpc": "2.0", "id": msg_id, "method": "textDocument/inlineCompletion", "params": {
        "textDocument": {"uri": CART.as_uri()},
        "position": {"line": LINE, "character": CHARACTER},
        "context": {"triggerKind": 1},
    }})


def wait_for(predicate, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_cancel_drops_the_model_request_and_no_late_answer_arrives(tmp_path):
    model = SlowModel(delay=3.0)
    server = start(tmp_path, model)
    try:
        inline(server, "slow-1")
        assert wait_for(lambda: len(model.requests) == 1), "the model was never asked"
        server.notify("$/cancelRequest", {"id": "slow-1"})
        answer = server.response("slow-1")
        assert answer.get("error", {}).get("code") == -32800 or answer.get("result") is None, answer
        assert wait_for(lambda: model.dropped == 1), "the HTTP request to the model was not dropped"
        # Past the model's delay: nothing more arrives for the cancelled request.
        time.sleep(3.5)
        late = [m for m in server.skipped if m.get("id") == "slow-1"]
        while not server.messages.empty():
            message = server.messages.get_nowait()
            if message and message.get("id") == "slow-1":
                late.append(message)
        assert late == [], f"late answers: {late}"
    finally:
        server.kill()
        model.close()


def test_a_newer_request_supersedes_the_one_in_flight(tmp_path):
    model = SlowModel(delay=1.0)
    server = start(tmp_path, model)
    try:
        inline(server, "first")
        assert wait_for(lambda: len(model.requests) == 1)
        inline(server, "second")
        first = server.response("first")
        assert first.get("result") is None, f"the superseded request was answered: {first}"
        assert wait_for(lambda: model.dropped == 1), "the superseded model request was not dropped"
        second = server.response("second")
        items = second["result"]["items"]
        assert items[0]["insertText"] == "items.clear();", second
    finally:
        server.kill()
        model.close()
