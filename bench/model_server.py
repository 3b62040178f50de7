"""A loopback OpenAI-compatible model server with a fixed, known latency.

Run as its own process (so that its work never shares an interpreter lock
with the LSP client that measures Cordon):

    python3 bench/model_server.py [--port 0]

It prints `PORT <n>` on stdout once listening, then serves HTTP/1.1 with
keep-alive on 127.0.0.1:

- `POST /v1/completions` (fill in the middle: `prompt` + `suffix`): answers
  `{"choices": [{"text": ..., "finish_reason": "stop"}], "usage": {...}}`.
  The text is `_h` + the CRC-32 (8 hex digits) of the last 32 characters of
  the prompt, so a client can tell which text an answer was computed for
  (see `answer_for`).
- `POST /v1/chat/completions`: a fixed one-line answer, as JSON or as
  server-sent events when `"stream": true`; after `POST /_bench/stream`
  (`pieces`, `gap_ms`) a streamed answer comes in that many pieces, that far
  apart, with the time each piece was written in the log.
- `GET /v1/models`: one model, for `doctor`-style reachability checks.

Control endpoints for the harness (never called by Cordon):

- `POST /_bench/latency` `{"ms": 20}`: the delay before every answer.
- `GET /_bench/log?since=N`: `{"count": total, "records": [...]}`, one
  record per model request from the N-th on: path, `t_first_ns` (first byte
  of the request line read), `t_done_ns` (last byte of the answer written),
  both `time.monotonic_ns()` — the same clock as the client's, so spans can
  be compared across the two processes — the prompt tail's hash, and which
  TCP connection carried it (numbered from 1 in accept order).
- `POST /_bench/reset`: forget the log.

Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import zlib

TAIL = 32


def answer_for(prompt: str) -> str:
    """The completion the server gives for `prompt` (shared with the client)."""
    return "_h%08x" % zlib.crc32(prompt[-TAIL:].encode("utf-8"))


class State:
    def __init__(self) -> None:
        self.latency_s = 0.0
        # Streamed chat answers: this many pieces, this far apart (0: one piece).
        self.stream_pieces = 0
        self.stream_gap_s = 0.0
        # Watch for the client going away while the latency runs (the
        # cancellation figure); then the request is logged as dropped.
        self.watch_drops = False
        self.arrived: list[int] = []  # t_first_ns of every model request
        self.log: list[dict] = []
        self.connections = 0


STATE = State()


def _response(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "OK")
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: keep-alive\r\n\r\n"
    )
    return head.encode("ascii") + body


def _json(status: int, value) -> bytes:
    return _response(status, json.dumps(value).encode("utf-8"))


async def _model(path: str, body: dict, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, t_first: int, conn: int) -> bool:
    """Answer one model request; False when the client went away first."""
    STATE.arrived.append(t_first)
    record = {"path": path, "t_first_ns": t_first, "connection": conn}
    if STATE.latency_s > 0 and STATE.watch_drops:
        # HTTP/1.1 clients do not pipeline: anything read now is the end.
        eof = asyncio.ensure_future(reader.read(1))
        done, _ = await asyncio.wait({eof}, timeout=STATE.latency_s)
        if done:
            record["dropped_ns"] = time.monotonic_ns()
            STATE.log.append(record)
            return False
        eof.cancel()
        try:
            await eof  # the reader is free again only once the read has ended
        except asyncio.CancelledError:
            pass
    elif STATE.latency_s > 0:
        await asyncio.sleep(STATE.latency_s)
    if path == "/v1/completions":
        prompt = str(body.get("prompt", ""))
        text = answer_for(prompt)
        record["hash"] = text
        record["prompt_chars"] = len(prompt)
        record["suffix_chars"] = len(str(body.get("suffix", "")))
        payload = {
            "id": "cmpl-bench",
            "object": "text_completion",
            "model": body.get("model", "bench-model"),
            "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": 3, "total_tokens": len(prompt) // 4 + 3},
        }
        writer.write(_json(200, payload))
    else:  # chat
        text = "This code is a benchmark fixture."
        if body.get("stream") and STATE.stream_pieces > 0:
            # The answer written piece by piece, as a model generates it.
            pieces = [f"piece {i:02d} of the explanation. " for i in range(STATE.stream_pieces)]
            record["text"] = "".join(pieces)
            events = [
                f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'content': p}, 'finish_reason': None}]})}\n\n"
                for p in pieces
            ]
            tail = (
                f"data: {json.dumps({'choices': [{'index': 0, 'delta': {}, 'finish_reason': 'stop'}]})}\n\n"
                f"data: {json.dumps({'choices': [], 'usage': {'prompt_tokens': 10, 'completion_tokens': 7 * len(pieces), 'total_tokens': 10 + 7 * len(pieces)}})}\n\n"
                "data: [DONE]\n\n"
            )
            body_bytes = [e.encode("utf-8") for e in events] + [tail.encode("utf-8")]
            head = _response(200, b"", "text/event-stream").replace(
                b"Content-Length: 0", b"Content-Length: %d" % sum(len(b) for b in body_bytes)
            )
            writer.write(head)
            record["t_pieces_ns"] = []
            for i, chunk in enumerate(body_bytes):
                if 0 < i < len(events):
                    await asyncio.sleep(STATE.stream_gap_s)
                writer.write(chunk)
                await writer.drain()
                if i < len(events):
                    record["t_pieces_ns"].append(time.monotonic_ns())
        elif body.get("stream"):
            chunks = [
                {"choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]},
                {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                {"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 7, "total_tokens": 17}},
            ]
            sse = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
            writer.write(_response(200, sse.encode("utf-8"), "text/event-stream"))
        else:
            payload = {
                "id": "chat-bench",
                "object": "chat.completion",
                "model": body.get("model", "bench-model"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 7, "total_tokens": 17},
            }
            writer.write(_json(200, payload))
    await writer.drain()
    record["t_done_ns"] = time.monotonic_ns()
    STATE.log.append(record)
    return True


async def _control(method: str, target: str, body: dict, writer: asyncio.StreamWriter) -> None:
    path, _, query = target.partition("?")
    if path == "/_bench/latency" and method == "POST":
        STATE.latency_s = float(body.get("ms", 0)) / 1000.0
        writer.write(_json(200, {"ms": STATE.latency_s * 1000.0}))
    elif path == "/_bench/stream" and method == "POST":
        STATE.stream_pieces = int(body.get("pieces", 0))
        STATE.stream_gap_s = float(body.get("gap_ms", 0)) / 1000.0
        writer.write(_json(200, {"pieces": STATE.stream_pieces}))
    elif path == "/_bench/watch_drops" and method == "POST":
        STATE.watch_drops = bool(body.get("on"))
        writer.write(_json(200, {"on": STATE.watch_drops}))
    elif path == "/_bench/arrived":
        writer.write(_json(200, {"arrived": STATE.arrived}))
    elif path == "/_bench/log":
        since = 0
        for part in query.split("&"):
            if part.startswith("since="):
                since = int(part[6:])
        writer.write(_json(200, {"count": len(STATE.log), "records": STATE.log[since:]}))
    elif path == "/_bench/reset" and method == "POST":
        STATE.log.clear()
        writer.write(_json(200, {"ok": True}))
    elif path == "/v1/models":
        writer.write(_json(200, {"object": "list", "data": [{"id": "bench-model", "object": "model"}]}))
    else:
        writer.write(_json(404, {"error": {"message": f"no route {method} {path}", "type": "not_found"}}))
    await writer.drain()


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    STATE.connections += 1
    conn = STATE.connections
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            t_first = time.monotonic_ns()
            if line in (b"\r\n", b"\n"):
                continue
            method, target, _ = line.decode("latin-1").split(" ", 2)
            length = 0
            close = False
            while True:
                header = await reader.readline()
                if header in (b"\r\n", b"\n", b""):
                    break
                name, _, value = header.decode("latin-1").partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value.strip())
                elif name == "connection" and value.strip().lower() == "close":
                    close = True
                elif name == "transfer-encoding" and "chunked" in value.lower():
                    writer.write(_json(400, {"error": {"message": "chunked bodies are not supported"}}))
                    await writer.drain()
                    return
            raw = await reader.readexactly(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                writer.write(_json(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}}))
                await writer.drain()
                continue
            path = target.partition("?")[0]
            if method == "POST" and path in ("/v1/completions", "/v1/chat/completions"):
                if not await _model(path, body, reader, writer, t_first, conn):
                    return
            else:
                await _control(method, target, body, writer)
            if close:
                return
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        return
    finally:
        writer.close()


async def _main(port: int) -> None:
    server = await asyncio.start_server(_serve, "127.0.0.1", port)
    bound = server.sockets[0].getsockname()[1]
    print(f"PORT {bound}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        asyncio.run(_main(args.port))
    except KeyboardInterrupt:
        sys.exit(0)
