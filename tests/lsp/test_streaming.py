"""Explanations stream into work-done progress: a loopback OpenAI-compatible
server writes the answer as server-sent events, one piece at a time, and the
editor sees the text grow in `$/progress` reports before the result arrives.
"""

from __future__ import annotations

import http.server
import json
import time
from pathlib import Path

from support import REQUEST_CANCELLED, SHOP, RawServer, serve_http, server_with_model

CART = SHOP / "src" / "cart.rs"
# Inside `pub fn clear(&mut self)` (0-based line 55).
CURSOR = {"line": 55, "character": 8}
PIECES = ["`clear` ", "empties ", "the cart: ", "every item ", "is dropped."]
ANSWER = "".join(PIECES)


class StreamingModel:
    """`POST /v1/chat/completions` answered as SSE, `pause` seconds between
    pieces. Records each request body, when each piece was written, and
    whether the client went away before the end."""

    def __init__(self, pause: float) -> None:
        self.requests: list[dict] = []
        self.sent_at: list[float] = []
        self.dropped = 0
        model = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                model.requests.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for piece in PIECES:
                        self.event({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
                        model.sent_at.append(time.monotonic())
                        time.sleep(pause)
                    self.event({
                        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21},
                    })
                    self.chunk(b"data: [DONE]\n\n")
                    self.chunk(b"")
                except OSError:
                    model.dropped += 1
                self.close_connection = True

            def event(self, fields: dict) -> None:
                chunk = {"id": "s", "object": "chat.completion.chunk", "model": "stream", **fields}
                self.chunk(f"data: {json.dumps(chunk)}\n\n".encode())

            def chunk(self, data: bytes) -> None:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def log_message(self, *args) -> None:
                pass

        self.server, self.url = serve_http(Handler)

    def close(self) -> None:
        self.server.shutdown()


def start(tmp_path: Path, model: StreamingModel, **init: object) -> RawServer:
    return server_with_model(tmp_path, model.url, CART, **init)


def explain(server: RawServer, msg_id: str, token: str | None = None) -> None:
    """Send `cordon.explain` at the cursor, with `token` when given."""
    params = {
        "command": "cordon.explain",
        "arguments": [{"uri": CART.as_uri(), "range": {"start": CURSOR, "end": CURSOR}}],
    }
    if token is not None:
        params["workDoneToken"] = token
    server.send({"jsonrpc": "2.0", "id": msg_id, "method": "workspace/executeCommand", "params": params})


def progress_until(server: RawServer, msg_id: str, token: str) -> tuple[list[tuple[float, dict]], dict]:
    """The progress values for `token` (with arrival times) up to the response
    to `msg_id`, and that response."""
    values = []
    while True:
        message = server.next_message()
        if message.get("method") == "$/progress" and message["params"]["token"] == token:
            values.append((time.monotonic(), message["params"]["value"]))
        elif message.get("id") == msg_id and "method" not in message:
            return values, message
        else:
            server.skipped.append(message)


def test_explain_and_hover_announce_work_done_progress():
    server = RawServer()
    try:
        capabilities = server.initialize()["capabilities"]
        assert capabilities["executeCommandProvider"]["workDoneProgress"] is True, capabilities
        assert capabilities["hoverProvider"]["workDoneProgress"] is True, capabilities
    finally:
        server.kill()


def test_the_explanation_grows_in_progress_reports_before_the_result(tmp_path):
    model = StreamingModel(pause=0.15)
    server = start(tmp_path, model)
    try:
        explain(server, "explain-1", "t1")
        values, response = progress_until(server, "explain-1", "t1")

        assert response.get("result") == ANSWER, response
        assert model.requests[0]["stream"] is True
        # The end may come just before or just after the response.
        if not any(v["kind"] == "end" for _, v in values):
            end = server.next_besides_status()
            assert end.get("method") == "$/progress", end
            values.append((time.monotonic(), end["params"]["value"]))
        kinds = [v["kind"] for _, v in values]
        assert kinds[0] == "begin" and kinds[-1] == "end" and kinds.count("end") == 1, kinds
        reports = [(at, v["message"]) for at, v in values if v["kind"] == "report"]
        texts = [text for _, text in reports]
        # Each report holds the line being written (the answer is one line):
        # it only grows, and ends with the whole line.
        assert len(reports) >= 3, texts
        assert all(ANSWER.startswith(text) for text in texts), texts
        assert texts == sorted(texts, key=len) and texts[-1] == ANSWER, texts
        # Streamed, not replayed: the first piece was shown while the model
        # was still writing.
        assert reports[0][0] < model.sent_at[-1], "no report arrived before the model finished"
    finally:
        server.kill()
        model.close()


def test_a_cancelled_explanation_ends_its_progress_and_drops_the_stream(tmp_path):
    model = StreamingModel(pause=1.0)
    server = start(tmp_path, model)
    try:
        explain(server, "explain-2", "t2")
        while True:
            message = server.next_message()
            if message.get("method") == "$/progress" and message["params"]["value"]["kind"] == "report":
                break
        assert message["params"]["value"]["message"] == PIECES[0].strip()
        server.notify("$/cancelRequest", {"id": "explain-2"})
        values, response = progress_until(server, "explain-2", "t2")
        assert response.get("error", {}).get("code") == REQUEST_CANCELLED, response
        # The editor's spinner stops although the request never finished.
        deadline = time.monotonic() + 5
        while not any(v["kind"] == "end" for _, v in values) and time.monotonic() < deadline:
            message = server.next_message()
            if message.get("method") == "$/progress":
                values.append((time.monotonic(), message["params"]["value"]))
        assert any(v["kind"] == "end" for _, v in values), values
        # The model's next write fails: nobody reads the stream any more.
        deadline = time.monotonic() + 8
        while model.dropped == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert model.dropped == 1
    finally:
        server.kill()
        model.close()


def test_hover_explanations_stream_too(tmp_path):
    model = StreamingModel(pause=0.05)
    server = start(tmp_path, model, initializationOptions={"cordon": {"hover_explain": True}})
    try:
        server.send({"jsonrpc": "2.0", "id": "hover-1", "method": "textDocument/hover", "params": {
            "textDocument": {"uri": CART.as_uri()}, "position": CURSOR, "workDoneToken": "h1",
        }})
        values, response = progress_until(server, "hover-1", "h1")
        assert response["result"]["contents"] == {"kind": "markdown", "value": ANSWER}, response
        reports = [v["message"] for _, v in values if v["kind"] == "report"]
        assert reports and reports[-1] == ANSWER, values
    finally:
        server.kill()
        model.close()


def test_a_client_that_never_creates_the_servers_token_still_gets_the_answer(tmp_path):
    model = StreamingModel(pause=0.05)
    server = start(tmp_path, model, capabilities={"window": {"workDoneProgress": True}})
    try:
        explain(server, "explain-4")
        # The request carried no token; the server asks for one and this
        # client never answers.
        response = server.response("explain-4")
        assert response.get("result") == ANSWER, response
        creates = [m for m in server.skipped if m.get("method") == "window/workDoneProgress/create"]
        assert len(creates) == 1, server.skipped
        assert not [m for m in server.skipped if m.get("method") == "$/progress"], "progress before the token existed"
    finally:
        server.kill()
        model.close()


def test_without_a_token_the_server_creates_one_and_streams_into_it(tmp_path):
    model = StreamingModel(pause=0.1)
    server = start(tmp_path, model, capabilities={"window": {"workDoneProgress": True}})
    try:
        explain(server, "explain-5")
        create = server.next_message()
        while create.get("method") != "window/workDoneProgress/create":
            create = server.next_message()
        token = create["params"]["token"]
        server.send({"jsonrpc": "2.0", "id": create["id"], "result": None})
        values, response = progress_until(server, "explain-5", token)
        assert response.get("result") == ANSWER, response
        if not any(v["kind"] == "end" for _, v in values):
            values.append((0.0, server.next_besides_status()["params"]["value"]))
        kinds = [v["kind"] for _, v in values]
        assert kinds[0] == "begin" and kinds[-1] == "end" and "report" in kinds, kinds
        assert [v["message"] for _, v in values if v["kind"] == "report"][-1] == ANSWER
    finally:
        server.kill()
        model.close()
