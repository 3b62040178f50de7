"""Helpers shared by the LSP end-to-end tests.

`Editor` drives the real `cordon lsp` binary through a pytest-lsp client the
way an editor does: it keeps its own copy of each open document, sends
incremental edits with ranges in the negotiated position encoding, and
converts between Python string offsets and LSP positions.

`RawServer` speaks JSON-RPC over stdio by hand, for what a well-behaved
client library cannot send: requests before `initialize`, malformed JSON,
`exit` without `shutdown`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import http.server
import itertools
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
SHOP = FIXTURES / "shop"
BINARY = Path(os.environ.get("CORDON_BIN", REPO / "target" / "release" / "cordon"))

# Generous bound on any single answer: a hang fails the test instead of
# stalling the suite. Never a performance assertion.
ANSWER_WITHIN_S = 15.0

# LSP / JSON-RPC error codes asserted by the tests.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
SERVER_NOT_INITIALIZED = -32002
REQUEST_CANCELLED = -32800
CONTENT_MODIFIED = -32801
REQUEST_FAILED = -32803


def _scratch() -> Path:
    root = Path(tempfile.mkdtemp(prefix="cordon-lsp-tests-"))
    for sub in ("cache", "data", "config"):
        (root / sub).mkdir()
    return root


SCRATCH = _scratch()


def server_env() -> dict[str, str]:
    """The server's environment: compiled plugins cached in a temp dir shared
    by the whole run, no user plugins or config, no model credentials (the
    tests assert what the offline `local` model does)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CORDON_", "ANTHROPIC_", "OPENAI_", "AWS_"))
    }
    env.update(
        CORDON_CACHE_DIR=str(SCRATCH / "cache"),
        XDG_DATA_HOME=str(SCRATCH / "data"),
        XDG_CONFIG_HOME=str(SCRATCH / "config"),
        # No organisation policy unless a test writes one.
        CORDON_ORG_POLICY=str(SCRATCH / "no-org-policy.toml"),
    )
    env.setdefault("RUST_LOG", "warn")
    return env


def remove_scratch() -> None:
    shutil.rmtree(SCRATCH, ignore_errors=True)


# --- positions -------------------------------------------------------------


def char_units(ch: str, encoding: str) -> int:
    """Code units of one character in an LSP position encoding."""
    if encoding == "utf-8":
        return len(ch.encode("utf-8"))
    if encoding == "utf-16":
        return len(ch.encode("utf-16-le")) // 2
    if encoding == "utf-32":
        return 1
    raise ValueError(encoding)


def units(text: str, encoding: str) -> int:
    return sum(char_units(c, encoding) for c in text)


@dataclass
class Doc:
    """An open document as the editor holds it."""

    uri: str
    text: str
    version: int = 1
    language_id: str = "rust"

    def offset(self, needle: str, *, after: bool = True, nth: int = 0) -> int:
        """Offset just after (or at) the `nth` occurrence of `needle`."""
        at = -1
        for _ in range(nth + 1):
            at = self.text.index(needle, at + 1)
        return at + len(needle) if after else at

    def line_end(self, line: int) -> int:
        """Offset of the end of 0-based `line` (before its newline)."""
        lines = self.text.split("\n")
        return sum(len(text) + 1 for text in lines[:line]) + len(lines[line])

    def line_col(self, offset: int) -> tuple[int, int]:
        """0-based line and 0-based character index (code points)."""
        before = self.text[:offset]
        line = before.count("\n")
        return line, offset - (before.rfind("\n") + 1)

    def position(self, offset: int, encoding: str) -> types.Position:
        line, col = self.line_col(offset)
        line_text = self.text.split("\n")[line]
        return types.Position(line=line, character=units(line_text[:col], encoding))

    def offset_of(self, pos: types.Position, encoding: str) -> int:
        """The string offset of an LSP position (exact: no rounding)."""
        lines = self.text.split("\n")
        assert pos.line < len(lines), f"line {pos.line} past the end"
        start = sum(len(line) + 1 for line in lines[: pos.line])
        seen = 0
        for i, ch in enumerate(lines[pos.line]):
            if seen == pos.character:
                return start + i
            assert seen < pos.character, (
                f"position {pos} falls inside character {ch!r} in {encoding}"
            )
            seen += char_units(ch, encoding)
        assert seen == pos.character, f"position {pos} past the end of line {pos.line}"
        return start + len(lines[pos.line])

    def apply(self, edit_range: types.Range, new_text: str, encoding: str) -> str:
        """The text after an edit whose range is in `encoding`."""
        start = self.offset_of(edit_range.start, encoding)
        end = self.offset_of(edit_range.end, encoding)
        return self.text[:start] + new_text + self.text[end:]


# --- the editor ------------------------------------------------------------


@dataclass
class Editor:
    """An editor session over a pytest-lsp client."""

    client: Any  # pytest_lsp.LanguageClient
    encoding: str
    root: Path
    initialize_result: types.InitializeResult | None = None
    responses: list[tuple[Any, Any, Any]] = field(default_factory=list)
    raw_responses: dict[Any, dict] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        # Record every response the server sends, including any that arrive
        # for a request the client already gave up on (a late answer).
        protocol = self.client.protocol
        original = protocol._handle_response

        def record(msg_id, result=None, error=None):
            self.responses.append((msg_id, result, error))
            return original(msg_id, result, error)

        protocol._handle_response = record

        # Keep each response as it came on the wire, before pygls turns it
        # into lsprotocol types (its union handling is lossy: a CodeAction
        # with a `command` becomes a Command).
        structure = protocol.structure_message

        def keep_raw(data):
            if isinstance(data, dict) and "jsonrpc" in data and "method" not in data:
                self.raw_responses[data.get("id")] = copy.deepcopy(data)
            return structure(data)

        protocol.structure_message = keep_raw

    # documents

    def uri(self, rel: str) -> str:
        return (self.root / rel).as_uri()

    def open(self, rel: str, text: str | None = None, language_id: str = "rust") -> Doc:
        path = self.root / rel
        doc = Doc(
            uri=path.as_uri(),
            text=path.read_text(encoding="utf-8") if text is None else text,
            language_id=language_id,
        )
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=doc.uri,
                    language_id=doc.language_id,
                    version=doc.version,
                    text=doc.text,
                )
            )
        )
        return doc

    def edit(self, doc: Doc, start: int, end: int, new_text: str) -> None:
        """Replace text[start:end] with `new_text`, sent as an incremental
        change whose range is in the negotiated encoding."""
        rng = types.Range(
            start=doc.position(start, self.encoding),
            end=doc.position(end, self.encoding),
        )
        doc.text = doc.text[:start] + new_text + doc.text[end:]
        doc.version += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=doc.uri, version=doc.version
                ),
                content_changes=[
                    types.TextDocumentContentChangePartial(range=rng, text=new_text)
                ],
            )
        )

    def insert(self, doc: Doc, offset: int, text: str) -> None:
        self.edit(doc, offset, offset, text)

    def replace_all(self, doc: Doc, text: str) -> None:
        """A full-document change (no range)."""
        doc.text = text
        doc.version += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=doc.uri, version=doc.version
                ),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    def close(self, doc: Doc) -> None:
        self.client.text_document_did_close(
            types.DidCloseTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=doc.uri)
            )
        )

    def configure(self, settings: Any) -> None:
        self.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings=settings)
        )

    # requests

    async def within(self, awaitable, what: str = "the answer"):
        try:
            return await asyncio.wait_for(awaitable, ANSWER_WITHIN_S)
        except TimeoutError:
            raise AssertionError(
                f"cordon lsp gave no {what} within {ANSWER_WITHIN_S:.0f} s"
            ) from None

    async def eventually(self, condition, what: str, within_s: float = ANSWER_WITHIN_S):
        """Wait until `condition()` holds (e.g. a notification arrived)."""
        deadline = asyncio.get_running_loop().time() + within_s
        while not condition():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"not within {within_s:.0f} s: {what}")
            await asyncio.sleep(0.02)

    def shown(self, kind: types.MessageType | None = None) -> list[str]:
        """Texts of `window/showMessage` so far (of one type, if given)."""
        return [
            m.message for m in self.client.messages if kind is None or m.type == kind
        ]

    def inline_params(
        self, doc: Doc, offset: int, invoked: bool = False
    ) -> types.InlineCompletionParams:
        kind = (
            types.InlineCompletionTriggerKind.Invoked
            if invoked
            else types.InlineCompletionTriggerKind.Automatic
        )
        return types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=doc.uri),
            position=doc.position(offset, self.encoding),
            context=types.InlineCompletionContext(trigger_kind=kind),
        )

    async def inline(self, doc: Doc, offset: int, invoked: bool = False):
        return await self.within(
            self.client.text_document_inline_completion_async(
                self.inline_params(doc, offset, invoked)
            ),
            "inline completion",
        )

    async def complete(self, doc: Doc, offset: int) -> types.CompletionList:
        return await self.within(
            self.client.text_document_completion_async(
                types.CompletionParams(
                    text_document=types.TextDocumentIdentifier(uri=doc.uri),
                    position=doc.position(offset, self.encoding),
                )
            ),
            "completion",
        )

    async def code_actions(self, doc: Doc, start: int, end: int, only=None) -> list[dict]:
        """Code actions for text[start:end], as plain JSON."""
        return await self.request(
            types.TEXT_DOCUMENT_CODE_ACTION,
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=doc.uri),
                range=types.Range(
                    start=doc.position(start, self.encoding),
                    end=doc.position(end, self.encoding),
                ),
                context=types.CodeActionContext(diagnostics=[], only=only),
            ),
        )

    async def execute(self, command: str, arguments: list[Any], token=None):
        return await self.within(
            self.client.workspace_execute_command_async(
                types.ExecuteCommandParams(
                    command=command, arguments=arguments, work_done_token=token
                )
            ),
            f"answer to {command}",
        )

    async def request(self, method: str, params: Any = None):
        """Any request, sent and answered as plain JSON (custom methods, or
        params an lsprotocol type cannot hold). Errors raise JsonRpcException."""
        protocol = self.client.protocol
        if hasattr(params, "__attrs_attrs__"):
            params = protocol._converter.unstructure(params)
        msg_id = f"raw-{next(self._ids)}"
        future: concurrent.futures.Future = concurrent.futures.Future()
        protocol._request_futures[msg_id] = future
        protocol._result_types[msg_id] = None
        message = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        protocol._send_data(message)
        await self.within(asyncio.wrap_future(future), method)
        return self.raw_responses[msg_id]["result"]

    async def stats(self) -> dict[str, int]:
        stats = await self.request("cordon/stats")
        assert isinstance(stats, dict), stats
        return stats


def error_of(excinfo) -> JsonRpcException:
    err = excinfo.value
    assert isinstance(err, JsonRpcException), repr(err)
    return err


def inline_items(result) -> list[types.InlineCompletionItem]:
    if result is None:
        return []
    if isinstance(result, types.InlineCompletionList):
        return list(result.items)
    return list(result)


def edit_of(item: types.CompletionItem) -> types.TextEdit:
    assert isinstance(item.text_edit, types.TextEdit), item
    return item.text_edit


# --- raw JSON-RPC ----------------------------------------------------------


class RawServer:
    """`cordon lsp` driven with hand-made JSON-RPC frames."""

    def __init__(self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [str(BINARY), "lsp", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**server_env(), **(env or {})},
            cwd=cwd,
        )
        self.messages: queue.Queue[dict | None] = queue.Queue()
        # Messages from the server that were not the awaited response.
        self.skipped: list[dict] = []
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
                    self.messages.put(None)
                    return
                headers += byte
            length = next(
                int(line.split(b":", 1)[1])
                for line in headers.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            body = out.read(length)
            if len(body) < length:  # the server went away mid-message
                self.messages.put(None)
                return
            self.messages.put(json.loads(body))

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def frame(self, body: bytes) -> None:
        self.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def send(self, message: dict) -> None:
        self.frame(json.dumps(message).encode())

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params: Any = None) -> dict:
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        return self.response(self.next_id)

    def response(self, msg_id: Any, timeout: float = ANSWER_WITHIN_S) -> dict:
        """The response to `msg_id`; server-to-client messages are skipped."""
        while True:
            message = self.next_message(timeout)
            if message.get("id") == msg_id and "method" not in message:
                return message
            self.skipped.append(message)

    def next_message(self, timeout: float = ANSWER_WITHIN_S) -> dict:
        try:
            message = self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"cordon lsp sent nothing within {timeout:.0f} s"
            ) from None
        if message is None:
            code = self.proc.poll()
            raise AssertionError(
                f"cordon lsp closed its output (exit code {code}) instead of answering"
            )
        return message

    def next_reply(self, timeout: float = ANSWER_WITHIN_S) -> dict:
        """The next message that is not a server-to-client request or
        notification (`cordon/status`, progress …, kept in `skipped`)."""
        while True:
            message = self.next_message(timeout)
            if "method" not in message:
                return message
            self.skipped.append(message)

    def next_besides_status(self, timeout: float = ANSWER_WITHIN_S) -> dict:
        """The next message other than a `cordon/status` notification."""
        while True:
            message = self.next_message(timeout)
            if message.get("method") != "cordon/status":
                return message
            self.skipped.append(message)

    def initialize(self, root: Path | None = SHOP, *, wait_for_plugins: bool = True, **params: Any) -> dict:
        """`initialize` then `initialized`; with `wait_for_plugins`, until the
        plugin folders are loaded too (the server loads them after answering,
        in the background)."""
        answer = self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": root.as_uri() if root else None,
                "capabilities": {},
                **params,
            },
        )
        assert "result" in answer, f"initialize failed: {answer}"
        self.notify("initialized", {})
        if wait_for_plugins:
            self.wait_for_plugins()
        return answer["result"]

    def wait_for_plugins(self, within_s: float = ANSWER_WITHIN_S) -> dict:
        """Poll `cordon/stats` until the plugin folders are loaded; the stats."""
        deadline = time.monotonic() + within_s
        while True:
            stats = self.request("cordon/stats")["result"]
            if not stats["plugins_loading"]:
                return stats
            if time.monotonic() > deadline:
                raise AssertionError(f"the plugins were not loaded within {within_s:.0f} s: {stats}")
            time.sleep(0.02)

    def shown_messages(self) -> list[dict]:
        """`window/showMessage` params received so far."""
        return [m["params"] for m in self.skipped if m.get("method") == "window/showMessage"]

    def wait(self, timeout: float = ANSWER_WITHIN_S) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"cordon lsp did not exit within {timeout:.0f} s") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass


def hostile_plugin() -> Path:
    """The test-only hostile plugin (tests/plugins/hostile), built from
    source as the Rust tests build it (same target folder)."""
    target = REPO / "target" / "wasm-test-plugins"
    env = {k: v for k, v in os.environ.items() if k not in ("RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_TARGET_DIR")}
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--target", "wasm32-wasip2", "--target-dir", str(target)],
        cwd=REPO / "tests" / "plugins",
        env=env,
        check=True,
    )
    return target / "wasm32-wasip2" / "release" / "cordon_test_hostile.wasm"


def serve_http(handler: type) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve `handler` (a `BaseHTTPRequestHandler`) on a loopback port from a
    daemon thread: the server (`shutdown()` it) and its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def server_with_model(tmp_path: Path, url: str, doc: Path, *, timeout_ms: int | None = None, **init: Any) -> RawServer:
    """`cordon lsp` with every feature routed to the OpenAI-compatible
    server at `url` (no retries), initialized, with `doc` open."""
    config = tmp_path / "cordon.toml"
    timeout = f"timeout_ms = {timeout_ms}\n" if timeout_ms else ""
    config.write_text(
        '[backends.loopback]\nprovider = "openai"\nmodel = "loopback"\n'
        f'base_url = "{url}"\n{timeout}max_retries = 0\n'
        '[routes]\ndefault = "loopback"\n'
    )
    server = RawServer("--config", str(config))
    server.initialize(**init)
    server.notify("textDocument/didOpen", {"textDocument": {
        "uri": doc.as_uri(), "languageId": "rust", "version": 1, "text": doc.read_text(),
    }})
    return server
