"""A minimal LSP client over stdio for measuring `cordon lsp`.

Single-threaded on purpose: it writes a message and reads the server's
stdout itself (select + os.read), so the time between "request written" and
"response parsed" contains no thread hand-off of the client. Server
requests (`window/workDoneProgress/create`, `workspace/configuration`, ...)
are answered with `null`; notifications are kept in `notifications`.

Times are `time.monotonic_ns()`, the clock the loopback model server logs
with, so spans can be compared across the processes.
"""

from __future__ import annotations

import glob
import json
import os
import select
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class LspError(Exception):
    pass


class ServerExited(LspError):
    pass


def now() -> int:
    return time.monotonic_ns()


@dataclass
class Reply:
    id: int
    result: Any = None
    error: dict | None = None
    sent_ns: int = 0
    recv_ns: int = 0

    @property
    def elapsed_ns(self) -> int:
        return self.recv_ns - self.sent_ns


class Server:
    """One `cordon lsp` process."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str | Path, stderr_path: Path):
        self.argv = argv
        self.stderr_file = open(stderr_path, "wb")
        self.spawn_ns = now()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr_file,
            env=env,
            cwd=str(cwd),
            bufsize=0,
        )
        self.out_fd = self.proc.stdout.fileno()
        self.buf = bytearray()
        self.next_id = 1
        self.replies: dict[int, Reply] = {}
        self.pending: dict[int, int] = {}  # id -> sent_ns
        self.notifications: list[dict] = []
        # `$/progress` notifications with the time each arrived.
        self.progress: list[tuple[int, dict]] = []
        self.server_requests: list[str] = []

    # -- wire ---------------------------------------------------------------

    def _write(self, message: dict) -> None:
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        data = b"Content-Length: %d\r\n\r\n" % len(body) + body
        try:
            self.proc.stdin.write(data)
        except (BrokenPipeError, OSError) as err:
            raise ServerExited(f"cordon exited (writing: {err}); code {self.proc.poll()}") from err

    def _parse(self) -> list[dict]:
        out = []
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return out
            length = None
            for line in bytes(self.buf[:end]).split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length is None:
                raise LspError(f"header without Content-Length: {bytes(self.buf[:end])!r}")
            start = end + 4
            if len(self.buf) < start + length:
                return out
            body = bytes(self.buf[start : start + length])
            del self.buf[: start + length]
            out.append(json.loads(body))

    def _handle(self, message: dict, t: int) -> None:
        if "method" in message:
            if "id" in message:  # a request from the server
                self.server_requests.append(message["method"])
                result: Any = None
                if message["method"] == "workspace/configuration":
                    result = [None for _ in message.get("params", {}).get("items", [])]
                self._write({"jsonrpc": "2.0", "id": message["id"], "result": result})
            else:
                self.notifications.append(message)
                if message["method"] == "$/progress":
                    self.progress.append((t, message.get("params", {})))
            return
        rid = message.get("id")
        if rid in self.pending:
            sent = self.pending.pop(rid)
            self.replies[rid] = Reply(rid, message.get("result"), message.get("error"), sent, t)

    def pump(self, timeout_s: float) -> bool:
        """Read and handle what the server sent within `timeout_s` (0: only
        what is already there). Returns whether anything arrived."""
        got = False
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.out_fd], [], [], remaining)
            if not ready:
                return got
            chunk = os.read(self.out_fd, 1 << 20)
            t = now()
            if not chunk:
                raise ServerExited(f"cordon closed its stdout; exit code {self.proc.wait(5)}")
            self.buf += chunk
            for message in self._parse():
                self._handle(message, t)
            got = True
            # Drain what is immediately available, then return.
            deadline = time.monotonic()

    # -- JSON-RPC -----------------------------------------------------------

    def send_request(self, method: str, params: Any = None) -> int:
        rid = self.next_id
        self.next_id += 1
        message = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            message["params"] = params
        self.pending[rid] = now()
        self._write(message)
        return rid

    def notify(self, method: str, params: Any = None) -> None:
        message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._write(message)

    def wait(self, rid: int, timeout_s: float = 30.0) -> Reply:
        deadline = time.monotonic() + timeout_s
        while rid not in self.replies:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LspError(f"no reply to request {rid} within {timeout_s} s")
            self.pump(remaining)
        return self.replies.pop(rid)

    def call(self, method: str, params: Any = None, timeout_s: float = 30.0) -> Reply:
        return self.wait(self.send_request(method, params), timeout_s)

    # -- LSP ----------------------------------------------------------------

    def initialize(self, root: Path, init_options: dict | None = None) -> Reply:
        uri = root.resolve().as_uri()
        params = {
            "processId": os.getpid(),
            "clientInfo": {"name": "cordon-bench", "version": "0"},
            "rootUri": uri,
            "workspaceFolders": [{"uri": uri, "name": root.name}],
            "capabilities": {
                "general": {"positionEncodings": ["utf-16"]},
                "textDocument": {
                    "synchronization": {"dynamicRegistration": False},
                    "completion": {"completionItem": {"snippetSupport": False}},
                    "inlineCompletion": {"dynamicRegistration": False},
                },
                "window": {"workDoneProgress": True},
            },
        }
        if init_options is not None:
            params["initializationOptions"] = init_options
        reply = self.call("initialize", params, timeout_s=300)
        if reply.error:
            raise LspError(f"initialize failed: {reply.error}")
        self.notify("initialized", {})
        return reply

    def stats(self) -> dict:
        reply = self.call("cordon/stats")
        if reply.error:
            raise LspError(f"cordon/stats failed: {reply.error}")
        return reply.result

    def rss_kb(self) -> dict[str, int]:
        """VmRSS and VmHWM of the server, in KiB."""
        out = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0])
        return out

    def cpu_ms(self) -> float:
        """CPU time the server's threads have run so far: the sum of
        /proc/PID/task/*/schedstat (nanoseconds; utime/stime in
        /proc/PID/stat count 10 ms ticks), or the ticks if a thread ended in
        between and the sum went backwards."""
        total = 0
        for stat in glob.glob(f"/proc/{self.proc.pid}/task/*/schedstat"):
            try:
                with open(stat) as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                continue
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks_ms = (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")
        exact = total / 1e6
        return exact if exact >= ticks_ms - 20 else ticks_ms

    def context_switches(self) -> tuple[int, int]:
        """Context switches (voluntary + involuntary) summed over the
        server's live threads, and the number of threads."""
        total = threads = 0
        for status in glob.glob(f"/proc/{self.proc.pid}/task/*/status"):
            try:
                with open(status) as f:
                    for line in f:
                        if "ctxt_switches" in line:
                            total += int(line.split()[1])
                threads += 1
            except (OSError, ValueError):
                continue
        return total, threads

    def close(self, timeout_s: float = 10.0) -> int | None:
        if self.proc.poll() is None:
            try:
                rid = self.send_request("shutdown")
                self.wait(rid, timeout_s)
                self.notify("exit")
                self.proc.stdin.close()
                self.proc.wait(timeout_s)
            except (LspError, subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait()
        self.stderr_file.close()
        return self.proc.returncode

    def messages_shown(self) -> list[str]:
        return [
            n["params"].get("message", "")
            for n in self.notifications
            if n.get("method") == "window/showMessage"
        ]


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Doc:
    """An open document. The harness only types at the cursor, so it keeps
    the cursor's LSP position and the last `TAIL` characters before it (the
    expected answer and the stale check use them), never a copy of the
    whole text: copying 10 MB per keystroke would cost the client
    milliseconds."""

    TAIL = 256

    server: Server
    uri: str
    tail: str  # the last TAIL characters before the cursor
    version: int = 1
    line: int = 0
    col16: int = 0
    typed: int = 0

    @classmethod
    def open(cls, server: Server, path: Path, text: str, cursor: int, language_id: str = "rust") -> "Doc":
        before = text[:cursor]
        doc = cls(server, path.resolve().as_uri(), before[-cls.TAIL :])
        doc.line = before.count("\n")
        doc.col16 = utf16_len(before[before.rfind("\n") + 1 :])
        server.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": doc.uri, "languageId": language_id, "version": 1, "text": text}},
        )
        return doc

    def position(self) -> dict:
        return {"line": self.line, "character": self.col16}

    def type(self, chars: str) -> None:
        """Insert `chars` at the cursor (one didChange), moving the cursor."""
        self.version += 1
        pos = self.position()
        self.server.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": self.uri, "version": self.version},
                "contentChanges": [{"range": {"start": pos, "end": pos}, "text": chars}],
            },
        )
        self.tail = (self.tail + chars)[-self.TAIL :]
        if "\n" in chars:
            self.line += chars.count("\n")
            self.col16 = utf16_len(chars[chars.rfind("\n") + 1 :])
        else:
            self.col16 += utf16_len(chars)
        self.typed += len(chars)

    def prefix_tail(self, n: int = 64) -> str:
        return self.tail[-n:]

    def inline(self, trigger_kind: int = 1) -> int:
        return self.server.send_request(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": self.uri},
                "position": self.position(),
                "context": {"triggerKind": trigger_kind},
            },
        )

    def completion(self) -> int:
        return self.server.send_request(
            "textDocument/completion",
            {
                "textDocument": {"uri": self.uri},
                "position": self.position(),
                "context": {"triggerKind": 1},
            },
        )

    def close(self) -> None:
        self.server.notify("textDocument/didClose", {"textDocument": {"uri": self.uri}})


def inline_texts(result: Any) -> list[str]:
    """insertText of each inline item (a list or `{items: [...]}`)."""
    if result is None:
        return []
    items = result.get("items", []) if isinstance(result, dict) else result
    out = []
    for item in items:
        text = item.get("insertText")
        if isinstance(text, dict):  # a snippet string
            text = text.get("value", "")
        out.append(text or "")
    return out


def completion_texts(result: Any) -> list[str]:
    """The text each completion item inserts."""
    if result is None:
        return []
    items = result.get("items", []) if isinstance(result, dict) else result
    out = []
    for item in items:
        edit = item.get("textEdit")
        out.append(edit.get("newText", "") if edit else item.get("insertText") or item.get("label", ""))
    return out
