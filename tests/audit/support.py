"""Helpers of the audit tests: a loopback OTLP/HTTP receiver that decodes
the real protobuf messages (`opentelemetry-proto`), a loopback
OpenAI-compatible model, and a workspace whose `cordon run` calls write real
audit records (model calls, a denial, redacted secrets)."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("CORDON_BIN", REPO / "target" / "release" / "cordon"))

# Planted in the workspace file, so that the gate redacts it before the
# request leaves (an AWS access key id and a GitHub token).
SECRETS = 'const AWS_KEY: &str = "AKIAQYLPMN5HHHFPZAM2";\nconst GH: &str = "ghp_8Zq4dJ3kLm9Xw2Rt7Yv1Bn5Hc6Pf0Ga3Ks8E";\n'


def attrs(items) -> dict:
    """OTLP KeyValues as a dict of plain Python values."""
    out = {}
    for kv in items:
        v = kv.value
        kind = v.WhichOneof("value")
        if kind == "array_value":
            out[kv.key] = [getattr(x, x.WhichOneof("value")) for x in v.array_value.values]
        else:
            out[kv.key] = getattr(v, kind) if kind else None
    return out


@dataclass
class Receiver:
    """An OTLP/HTTP collector on loopback: `POST /v1/logs` and `/v1/traces`
    decoded with the protobuf classes. `status` other than 200 answers every
    request with it (and keeps nothing)."""

    port: int = 0
    status: int = 200
    logs: list[dict] = field(default_factory=list)
    spans: list[dict] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> "Receiver":
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}})
                if receiver.status != 200:
                    text = b"collector says no"
                    self.send_response(receiver.status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)
                    return
                assert self.headers["Content-Type"] == "application/x-protobuf"
                if self.path == "/v1/logs":
                    req = ExportLogsServiceRequest()
                    req.ParseFromString(body)
                    for rl in req.resource_logs:
                        resource = attrs(rl.resource.attributes)
                        for sl in rl.scope_logs:
                            for rec in sl.log_records:
                                receiver.logs.append({
                                    "resource": resource,
                                    "scope": sl.scope.name,
                                    "body": rec.body.string_value,
                                    "attributes": attrs(rec.attributes),
                                    "time_unix_nano": rec.time_unix_nano,
                                    "severity": rec.severity_text,
                                    "event_name": rec.event_name,
                                    "trace_id": rec.trace_id.hex(),
                                    "span_id": rec.span_id.hex(),
                                })
                    answer = ExportLogsServiceResponse().SerializeToString()
                elif self.path == "/v1/traces":
                    req = ExportTraceServiceRequest()
                    req.ParseFromString(body)
                    for rs in req.resource_spans:
                        for ss in rs.scope_spans:
                            for span in ss.spans:
                                receiver.spans.append({
                                    "name": span.name,
                                    "kind": span.kind,
                                    "attributes": attrs(span.attributes),
                                    "trace_id": span.trace_id.hex(),
                                    "span_id": span.span_id.hex(),
                                    "status": span.status.code,
                                    "start": span.start_time_unix_nano,
                                    "end": span.end_time_unix_nano,
                                })
                    answer = ExportTraceServiceResponse().SerializeToString()
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.allow_reuse_address = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def hashes(self) -> list[str]:
        return [r["attributes"].get("cordon.record_hash") for r in self.logs]


class Model:
    """An OpenAI-compatible model on loopback (chat and completions) with
    fixed token counts; keeps every request body."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        model = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                model.bodies.append(body)
                usage = {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
                if self.path.endswith("/chat/completions"):
                    answer = {"id": "c", "object": "chat.completion", "model": "loopback", "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": "items.clear();"}, "finish_reason": "stop"}],
                        "usage": usage}
                else:
                    answer = {"id": "c", "object": "text_completion", "model": "loopback", "choices": [
                        {"index": 0, "text": "items.clear();", "finish_reason": "stop"}], "usage": usage}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Setup:
    """A workspace, an organisation policy with an audit log (and an export
    to `endpoint` when given), a loopback model, and an isolated home."""

    def __init__(self, tmp: Path, endpoint: str | None = None, headers: str = "") -> None:
        self.tmp = tmp
        self.model = Model()
        self.ws = tmp / "ws"
        (self.ws / "src").mkdir(parents=True)
        (self.ws / ".git").mkdir()
        self.file = self.ws / "src" / "cart.rs"
        self.file.write_text(SECRETS + "pub fn empty(items: &mut Vec<u32>) {\n    items.\n}\n")
        self.log = tmp / "org" / "audit.jsonl"
        (tmp / "org").mkdir()
        self.policy = tmp / "org" / "policy.toml"
        export = ""
        if endpoint:
            export = f'\n[audit.export]\nendpoint = "{endpoint}"\n{headers}'
        self.policy.write_text(
            '[plugins."*"]\ncapabilities = ["model", "workspace.read", "log"]\n'
            # explain may use a model, but not this one: a denied model call.
            '[plugins.explain]\ncapabilities = ["model", "log"]\nmodels = ["approved-model"]\n'
            f'[audit]\npath = "{self.log}"\n{export}'
        )
        self.config = tmp / "cordon.toml"
        self.config.write_text(
            '[backends.loopback]\nprovider = "openai"\nmodel = "loopback-7b"\n'
            f'base_url = "{self.model.url}"\nmax_retries = 0\n[routes]\ndefault = "loopback"\n'
        )
        for sub in ("data", "config", "cache"):
            (tmp / sub).mkdir(exist_ok=True)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("CORDON_", "OTEL_", "ANTHROPIC_", "OPENAI_", "AWS_"))}
        self.env.update(
            CORDON_ORG_POLICY=str(self.policy),
            XDG_DATA_HOME=str(tmp / "data"),
            XDG_CONFIG_HOME=str(tmp / "config"),
            CORDON_CACHE_DIR=str(os.environ.get("CORDON_AUDIT_TEST_CACHE", tmp / "cache")),
            OPENAI_API_KEY="sk-test-not-a-real-key",
        )

    def cordon(self, *args: str, env: dict | None = None, check: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run([str(BINARY), *args], env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=120, check=check, cwd=self.ws)

    def complete(self) -> None:
        """One completion: a model call through the gate (route and request
        records, secrets redacted)."""
        r = self.cordon("run", "complete", f"{self.file}:4:11", "--config", str(self.config), "--json")
        assert r.returncode == 0, r.stderr

    def explain(self) -> None:
        """An explanation whose model the policy does not allow: a denied
        model call."""
        self.cordon("run", "explain", f"{self.file}:3:8", "--config", str(self.config), "--json")

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def close(self) -> None:
        self.model.close()


class Lsp:
    """`cordon lsp` driven over stdio with hand-made JSON-RPC frames: just
    enough to open a document and ask for completions."""

    def __init__(self, setup: Setup) -> None:
        self.proc = subprocess.Popen(
            [str(BINARY), "lsp", "--config", str(setup.config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=setup.env, cwd=setup.ws,
        )
        self.next_id = 0
        self.version = 1
        self.setup = setup
        self.request("initialize", {"processId": None, "rootUri": setup.ws.as_uri(), "capabilities": {}})
        self.notify("initialized", {})
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": setup.file.as_uri(), "languageId": "rust", "version": 1, "text": setup.file.read_text()}})

    def send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def read(self) -> dict:
        out = self.proc.stdout
        assert out is not None
        headers = b""
        while not headers.endswith(b"\r\n\r\n"):
            byte = out.read(1)
            assert byte, "the server went away"
            headers += byte
        length = next(int(h.split(b":", 1)[1]) for h in headers.split(b"\r\n") if h.lower().startswith(b"content-length:"))
        return json.loads(out.read(length))

    def request(self, method: str, params) -> dict:
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            message = self.read()
            if message.get("id") == self.next_id and "method" not in message:
                return message
            if "method" in message and "id" in message:  # a request from the server
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})

    def complete(self) -> dict:
        """A completion after an edit (so no cached answer serves it)."""
        self.version += 1
        text = self.setup.file.read_text() + f"// edit {self.version}\n"
        self.notify("textDocument/didChange", {
            "textDocument": {"uri": self.setup.file.as_uri(), "version": self.version},
            "contentChanges": [{"text": text}]})
        return self.request("textDocument/completion", {
            "textDocument": {"uri": self.setup.file.as_uri()}, "position": {"line": 3, "character": 10}})

    def close(self) -> None:
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()
