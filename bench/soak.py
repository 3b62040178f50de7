"""Soak: many LSP requests against a loopback model that misbehaves.

    python3 bench/soak.py [--requests 100000] [--json OUT]

One `cordon lsp` (target/release/cordon) with the hostile test plugin
loaded (tests/plugins/hostile; the document tells it to spin in every
completion call) and every feature routed to a loopback OpenAI-compatible
server run here, which injects a fault into most answers, by turns:
connection resets, 429 (with `retry-after`), 500 and 503, truncated bodies
and streams, malformed JSON and malformed server-sent events, and slow
answers. The client keeps a window of requests in flight, mixing
completion, inline completion, code actions and `cordon.explain`, and
types into the document as it goes (so that answers can go stale).

Checked, and printed as figures:
- no lost response: every request gets exactly one answer, and the server
  never stops;
- no stale answer: every completion answered with the model's text carries
  the text the model computed for the document version the request was
  made on (the server's answer is `_h` + a hash of the prompt's tail);
- memory: resident set size sampled all along; growth over the second half
  (last sample against the one at half-way) at most 5 %.

Python 3.11 standard library only. A short run (2 000 requests) is in the
pytest suite (tests/lsp/test_soak.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BINARY = Path(os.environ.get("CORDON_BIN", REPO / "target" / "release" / "cordon"))
CART = REPO / "tests" / "fixtures" / "shop" / "src" / "cart.rs"
TAIL = 32
HASH = re.compile(r"_h[0-9a-f]{8}")
# One fault per answer in turn; "ok" answers are the rest of the cycle. An
# "ok" follows every two faults: three failed answers in a row put the
# backend aside for 30 s (`gate::fallback`), and a short soak would then be
# answered by the local model from start to end, its model text unchecked.
FAULTS = ["reset", "429", "ok", "500", "truncated", "ok", "malformed", "503", "ok", "slow", "malformed-stream", "ok"]
SLOW_S = 0.3
# `Cart::total_cents`'s method chain, one line down for the marker line.
CHAIN = {"start": {"line": 37, "character": 8}, "end": {"line": 40, "character": 18}}
# Bound on any one answer: the slowest path is a slow model answer after
# the debounce; far above it, far below a stall.
ANSWER_WITHIN_S = 60.0


def answer_for(prompt: str) -> str:
    return "_h%08x" % zlib.crc32(prompt[-TAIL:].encode("utf-8"))


# --- the misbehaving model ----------------------------------------------------


class Model:
    """A loopback OpenAI-compatible server on its own thread and loop."""

    def __init__(self) -> None:
        self.served = 0
        self.faults: dict[str, int] = {}
        self.port = 0
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        async def main() -> None:
            server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            await server.serve_forever()

        asyncio.run(main())

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                headers = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = h.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                path = line.split()[1].decode()
                if not await self._answer(path, json.loads(body or b"{}"), writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    async def _answer(self, path: str, body: dict, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection is to be dropped."""
        if path == "/v1/models":
            writer.write(_http(200, json.dumps({"object": "list", "data": [{"id": "soak"}]}).encode()))
            await writer.drain()
            return True
        fault = FAULTS[self.served % len(FAULTS)]
        self.served += 1
        self.faults[fault] = self.faults.get(fault, 0) + 1
        if fault == "reset":
            sock = writer.get_extra_info("socket")
            if sock is not None:
                import socket
                import struct

                # RST rather than FIN.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if fault in ("429", "500", "503"):
            extra = "Retry-After: 0\r\n" if fault == "429" else ""
            payload = json.dumps({"error": {"message": f"injected {fault}", "type": "soak"}}).encode()
            writer.write(_http(int(fault), payload, extra=extra))
            await writer.drain()
            return True
        if fault == "slow":
            await asyncio.sleep(SLOW_S)
        stream = bool(body.get("stream"))
        if path == "/v1/completions":
            text = answer_for(str(body.get("prompt", "")))
            payload = json.dumps({
                "id": "soak", "object": "text_completion", "model": "soak",
                "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 8, "completion_tokens": 3, "total_tokens": 11},
            }).encode()
            content_type = "application/json"
        elif stream:
            events = [
                {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Soak explanation."}, "finish_reason": None}]},
                {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                {"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}},
            ]
            sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
            if fault == "malformed-stream":
                sse = 'data: {"choices": [{"delta": {"content": "half\n\ndata: }}}}\n\n'
            payload = sse.encode()
            content_type = "text/event-stream"
        else:
            payload = json.dumps({
                "id": "soak", "object": "chat.completion", "model": "soak",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Soak explanation."}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
            }).encode()
            content_type = "application/json"
        if fault in ("malformed", "malformed-stream") and content_type == "application/json":
            payload = b'{"choices": [{"text": "unterminated'
        if fault == "truncated":
            # Promise the whole body, send half, hang up.
            writer.write(_http(200, payload, content_type)[: -max(1, len(payload) // 2)])
            await writer.drain()
            return False
        writer.write(_http(200, payload, content_type))
        await writer.drain()
        return True


def _http(status: int, body: bytes, content_type: str = "application/json", extra: str = "") -> bytes:
    reason = {200: "OK", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}[status]
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n{extra}Connection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


# --- the client ---------------------------------------------------------------


class Lsp:
    """`cordon lsp` over pipes; a reader thread queues what it writes."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [str(BINARY), "lsp", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        )
        self.inbox: queue.Queue[dict | None] = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            headers = b""
            while not headers.endswith(b"\r\n\r\n"):
                byte = out.read(1)
                if not byte:
                    self.inbox.put(None)
                    return
                headers += byte
            length = int(re.search(rb"Content-Length: *(\d+)", headers, re.I).group(1))
            self.inbox.put(json.loads(out.read(length)))

    def send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params) -> int:
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        return self.next_id

    def next(self, timeout: float) -> dict:
        message = self.inbox.get(timeout=timeout)
        if message is None:
            raise RuntimeError(f"cordon lsp closed its output (exit code {self.proc.poll()})")
        return message

    def call(self, method: str, params, timeout: float = ANSWER_WITHIN_S) -> dict:
        msg_id = self.request(method, params)
        while True:
            message = self.next(timeout)
            if message.get("id") == msg_id and "method" not in message:
                return message

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")


def hostile_plugin() -> Path:
    target = REPO / "target" / "wasm-test-plugins"
    env = {k: v for k, v in os.environ.items() if k not in ("RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_TARGET_DIR")}
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--target", "wasm32-wasip2", "--target-dir", str(target)],
        cwd=REPO / "tests" / "plugins", env=env, check=True,
    )
    return target / "wasm32-wasip2" / "release" / "cordon_test_hostile.wasm"


KINDS = ["completion", "inline", "code_action", "completion", "explain", "inline", "completion", "code_action"]


def soak(requests: int, window: int = 16, edit_every: int = 40, progress: bool = False) -> dict:
    """Run the soak; its figures (see the module's doc)."""
    scratch = Path(tempfile.mkdtemp(prefix="cordon-soak-"))
    try:
        return _soak(scratch, requests, window, edit_every, progress)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _soak(scratch: Path, requests: int, window: int, edit_every: int, progress: bool) -> dict:
    model = Model()
    plugins = scratch / "plugins"
    plugins.mkdir()
    shutil.copy(hostile_plugin(), plugins / "hostile.wasm")
    config = scratch / "cordon.toml"
    config.write_text(
        '[backends.loopback]\nprovider = "openai"\nmodel = "soak"\n'
        f'base_url = "http://127.0.0.1:{model.port}"\ntimeout_ms = 5000\nmax_retries = 1\n'
        '[routes]\ndefault = "loopback"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORDON_", "ANTHROPIC_", "OPENAI_", "AWS_"))}
    for sub in ("cache", "data", "config"):
        (scratch / sub).mkdir()
    env.update(
        CORDON_CACHE_DIR=str(scratch / "cache"), XDG_DATA_HOME=str(scratch / "data"),
        XDG_CONFIG_HOME=str(scratch / "config"), CORDON_ORG_POLICY=str(scratch / "no-org-policy.toml"),
        RUST_LOG="error",
    )
    lsp = Lsp(["--config", str(config), "--plugin-dir", str(plugins)], env)
    answer = lsp.call("initialize", {
        "processId": os.getpid(), "rootUri": CART.parent.parent.as_uri(),
        "capabilities": {}, "initializationOptions": {"cordon": {"inline_completion": True, "debounce_ms": 0}},
    })
    assert "result" in answer, answer
    lsp.notify("initialized", {})
    while lsp.call("cordon/stats", None)["result"]["plugins_loading"]:
        time.sleep(0.05)
    uri = CART.as_uri()
    # The hostile plugin spins in every completion call on this document.
    lines = ["// cordon-test:loop", *CART.read_text().split("\n")]
    line = 57  # `        self.line_` in Cart::clear, one down for the marker
    assert lines[line].strip() == "self.line_", lines[line]
    version = 1
    texts = {version: "\n".join(lines)}
    lsp.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "rust", "version": 1, "text": texts[1]}})

    def prefix(v: int) -> str:
        text_lines = texts[v].split("\n")
        return "\n".join(text_lines[:line] + [text_lines[line]])

    inflight: dict[int, tuple[str, int, float]] = {}
    counts = {k: 0 for k in set(KINDS)}
    outcomes: dict[str, int] = {}
    stale = []
    checked = 0
    answered = 0
    rss: list[tuple[int, int]] = []
    started = time.monotonic()
    sent = 0
    slowest = 0.0
    typed = 0

    def take(message: dict) -> None:
        nonlocal answered, checked, slowest
        if "method" in message:
            if "id" in message:  # a request from the server: answer it
                lsp.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            return
        kind, v, t0 = inflight.pop(message["id"])
        slowest = max(slowest, time.monotonic() - t0)
        answered += 1
        if "error" in message:
            key = f"{kind}: error {message['error']['code']}"
        else:
            key = f"{kind}: ok"
            result = message["result"]
            items = []
            if kind == "completion" and result:
                items = [i["textEdit"]["newText"] for i in result["items"]]
            elif kind == "inline" and result:
                items = [i["insertText"] if isinstance(i["insertText"], str) else i["insertText"]["value"] for i in result["items"]]
            want = answer_for(prefix(v))
            for text in items:
                for found in HASH.findall(text):
                    checked += 1
                    if found != want:
                        stale.append({"kind": kind, "version": v, "got": found, "want": want})
        outcomes[key] = outcomes.get(key, 0) + 1

    while sent < requests or inflight:
        while sent < requests and len(inflight) < window:
            if sent % edit_every == edit_every - 1:
                # Type one character at the cursor (the line grows).
                version += 1
                typed += 1
                char = "abcdefghij"[typed % 10]
                column = len(texts[version - 1].split("\n")[line])
                text_lines = texts[version - 1].split("\n")
                text_lines[line] += char
                texts[version] = "\n".join(text_lines)
                texts.pop(version - 50, None)
                lsp.notify("textDocument/didChange", {
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [{"range": {"start": {"line": line, "character": column}, "end": {"line": line, "character": column}}, "text": char}],
                })
            kind = KINDS[sent % len(KINDS)]
            column = len(texts[version].split("\n")[line])
            position = {"line": line, "character": column}
            doc = {"uri": uri}
            if kind == "completion":
                msg_id = lsp.request("textDocument/completion", {"textDocument": doc, "position": position})
            elif kind == "inline":
                msg_id = lsp.request("textDocument/inlineCompletion", {
                    "textDocument": doc, "position": position, "context": {"triggerKind": 1},
                })
            elif kind == "code_action":
                msg_id = lsp.request("textDocument/codeAction", {
                    "textDocument": doc, "range": CHAIN,
                    "context": {"diagnostics": []},
                })
            else:
                msg_id = lsp.request("workspace/executeCommand", {
                    "command": "cordon.explain",
                    "arguments": [{"uri": uri, "range": CHAIN}],
                })
            inflight[msg_id] = (kind, version, time.monotonic())
            counts[kind] += 1
            sent += 1
            if sent % 500 == 0:
                rss.append((sent, lsp.rss_kib()))
                if progress and sent % 10000 == 0:
                    print(f"  {sent} sent, {answered} answered, RSS {rss[-1][1]} KiB", file=sys.stderr)
        try:
            take(lsp.next(ANSWER_WITHIN_S))
        except queue.Empty:
            raise AssertionError(f"no answer within {ANSWER_WITHIN_S:.0f} s; {len(inflight)} in flight: {sorted(inflight.items())[:5]}") from None
        # Drain whatever else is already there.
        while True:
            try:
                message = lsp.inbox.get_nowait()
            except queue.Empty:
                break
            if message is None:
                raise RuntimeError(f"cordon lsp closed its output (exit code {lsp.proc.poll()})")
            take(message)
    elapsed = time.monotonic() - started
    rss.append((sent, lsp.rss_kib()))
    stats = lsp.call("cordon/stats", None)["result"]
    lsp.call("shutdown", None)
    lsp.notify("exit", None)
    exit_code = lsp.proc.wait(30)
    half = next(kib for n, kib in rss if n >= requests // 2)
    growth = (rss[-1][1] - half) / half
    return {
        "requests": sent,
        "answered": answered,
        "lost": sent - answered,
        "stale": len(stale),
        "stale_examples": stale[:5],
        "model_text_checked": checked,
        "edits": version - 1,
        "by_kind": counts,
        "outcomes": dict(sorted(outcomes.items())),
        "model_requests": model.served,
        "faults": dict(sorted(model.faults.items())),
        "seconds": round(elapsed, 1),
        "requests_per_s": round(sent / elapsed, 1),
        "slowest_answer_s": round(slowest, 2),
        "rss_kib_half": half,
        "rss_kib_end": rss[-1][1],
        "rss_kib_max": max(kib for _, kib in rss),
        "rss_growth_second_half": round(growth, 4),
        "server_stats": stats,
        "exit_code": exit_code,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=16, help="requests in flight")
    parser.add_argument("--json", metavar="OUT", help="write the figures there too")
    args = parser.parse_args()
    figures = soak(args.requests, window=args.window, progress=True)
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    ok = figures["lost"] == 0 and figures["stale"] == 0 and figures["rss_growth_second_half"] <= 0.05 and figures["exit_code"] == 0
    print("soak:", "PASS" if ok else "FAIL", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
