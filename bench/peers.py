"""Cordon beside the open AI language servers, in one run: `bench/run.py --peers`.

lsp-ai is installed from the crate registry into `target/bench/peers/`
(`cargo install lsp-ai --version 0.7.0 --locked`, once); llm-ls is not in
the registry, so it is measured when a binary is given (`--llm-ls PATH`).
Every server gets the same loopback OpenAI-compatible model server and the
same documents (1 KB, 100 KB, 10 MB of real code), and the sessions are
interleaved round-robin — type one character, ask for a completion, wait
for the answer — so a change of the machine's load hits every server and
size alike. What is compared is the client's round trip, p50 and p99.

How each peer is configured (the closest each has to Cordon's completion):

- lsp-ai: `textDocument/completion`, model type `open_ai` at the loopback
  `/v1/completions`, fill-in-the-middle tokens, 32 new tokens, its request
  limit raised to 1000 per second (its default, 1, would measure the limit).
- llm-ls: its `llm-ls/getCompletions` request, backend `openai` at the
  loopback URL, fill-in-the-middle on, a 1024-token context window.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from common import BIN, OUT, make_document, open_doc, pct
from lsp import Server

LSP_AI_VERSION = "0.7.0"
PEERS = OUT / "peers"
FIM = {"start": "<fim_prefix>", "middle": "<fim_suffix>", "end": "<fim_middle>"}


def install_lsp_ai() -> Path:
    """lsp-ai from the crate registry, built once into target/bench/peers."""
    root = PEERS / "lsp-ai"
    binary = root / "bin" / "lsp-ai"
    if binary.is_file():
        return binary
    cargo = shutil.which("cargo") or "cargo"
    print(f"  · installing lsp-ai {LSP_AI_VERSION} from the crate registry into {root} (once; several minutes)", flush=True)
    env = {k: v for k, v in os.environ.items() if k not in ("CARGO_TARGET_DIR", "RUSTFLAGS")}
    subprocess.run(
        [cargo, "install", "lsp-ai", "--version", LSP_AI_VERSION, "--locked", "--root", str(root)],
        check=True,
        env=env,
        cwd=str(PEERS.parent),
    )
    return binary


def lsp_ai_options(port: int) -> dict:
    return {
        "memory": {"file_store": {}},
        "models": {
            "loopback": {
                "type": "open_ai",
                "completions_endpoint": f"http://127.0.0.1:{port}/v1/completions",
                "model": "loopback-7b",
                "auth_token": "bench",
                "max_requests_per_second": 1000,
            }
        },
        "completion": {
            "model": "loopback",
            "parameters": {"fim": FIM, "max_context": 1024, "max_tokens": 32},
        },
    }


def llm_ls_params(doc, port: int) -> dict:
    return {
        "textDocument": {"uri": doc.uri},
        "position": doc.position(),
        "model": "loopback-7b",
        "backend": "openai",
        "url": f"http://127.0.0.1:{port}/v1/completions",
        "requestBody": {"max_tokens": 32, "temperature": 0.2},
        "tokensToClear": ["<|endoftext|>"],
        "fim": {"enabled": True, "prefix": FIM["start"], "middle": FIM["end"], "suffix": FIM["middle"]},
        "contextWindow": 1024,
        "tlsSkipVerifyInsecure": False,
        "ide": "neovim",
        "disableUrlPathCompletion": False,
        "tokenizerConfig": None,
        "apiToken": "bench",
    }


class Peer:
    """One server of one kind with one open document."""

    def __init__(self, ctx, kind: str, binary: Path, label: str, size: int):
        self.kind, self.label = kind, label
        text, cursor, _indent = make_document(ctx.code, size)
        workspace = ctx.workspace()
        if kind == "cordon":
            self.server = ctx.launch.start(workspace, f"peers-cordon-{size}")
        else:
            env = {k: v for k, v in os.environ.items() if not k.startswith("CORDON")}
            self.server = Server([str(binary)], env, workspace, ctx.scratch.log(f"peers-{kind}-{size}"))
            self.server.initialize(workspace, lsp_ai_options(ctx.model.port) if kind == "lsp-ai" else None)
        self.doc = open_doc(self.server, workspace, "bench_doc.rs", text, cursor)
        self.port = ctx.model.port
        self.round_trips: list[int] = []
        self.errors: list[str] = []
        self.empty = 0

    def ask(self) -> None:
        if self.kind == "llm-ls":
            rid = self.server.send_request("llm-ls/getCompletions", llm_ls_params(self.doc, self.port))
        else:
            rid = self.doc.completion()
        reply = self.server.wait(rid, timeout_s=60)
        self.round_trips.append(reply.recv_ns - reply.sent_ns)
        if reply.error:
            self.errors.append(str(reply.error.get("message", reply.error))[:200])
        elif not reply.result:
            self.empty += 1

    def close(self) -> None:
        try:
            self.server.call("shutdown", None, timeout_s=10)
            self.server.notify("exit", None)
        except Exception:
            pass
        self.server.proc.kill()


def peers(ctx, lsp_ai: Path | None, llm_ls: Path | None) -> dict:
    from figures import SIZES, log  # noqa: PLC0415 (figures imports this module's callers)

    kinds = [("cordon", BIN)]
    if lsp_ai:
        kinds.append(("lsp-ai", lsp_ai))
    if llm_ls:
        kinds.append(("llm-ls", llm_ls))
    n, warmup = (12, 2) if ctx.quick else (60, 5)
    sessions = [Peer(ctx, kind, binary, label, size) for kind, binary in kinds for label, size in SIZES]
    typed = "x"
    calls0 = ctx.model.count()
    try:
        log(f"{', '.join(k for k, _ in kinds)} × {', '.join(l for l, _ in SIZES)} interleaved, {warmup} + {n} rounds")
        for round_ in range(warmup + n):
            for se in sessions:
                se.doc.type(typed)
                se.ask()
            if round_ == warmup - 1:
                for se in sessions:
                    se.round_trips.clear()
                    se.errors.clear()
                    se.empty = 0
        calls = ctx.model.count() - calls0
    finally:
        for se in sessions:
            se.close()
    cells = []
    for se in sessions:
        rtt = [t / 1e6 for t in se.round_trips]
        cells.append(
            {
                "server": se.kind,
                "size": se.label,
                "requests": len(rtt),
                "round_trip_ms": {"p50": pct(rtt, 0.5), "p99": pct(rtt, 0.99)},
                "errors": len(se.errors),
                "error_examples": sorted(set(se.errors))[:3],
                "empty_answers": se.empty,
            }
        )
    return {
        "servers": {k: str(b) for k, b in kinds},
        "lsp_ai_version": LSP_AI_VERSION if lsp_ai else None,
        "model_latency": "the loopback server answers at once",
        # Every request of every server should reach the model server once.
        "model_calls_seen": calls,
        "requests_sent": (warmup + n) * len(sessions),
        "cells": cells,
    }


def print_peers(fig: dict) -> None:
    if "cells" not in fig:
        return
    servers = list(dict.fromkeys(c["server"] for c in fig["cells"]))
    sizes = list(dict.fromkeys(c["size"] for c in fig["cells"]))
    print()
    print("| document | " + " | ".join(f"{s} p50 / p99" for s in servers) + " |")
    print("| --- |" + " ---: |" * len(servers))
    for size in sizes:
        row = []
        for s in servers:
            c = next(c for c in fig["cells"] if c["server"] == s and c["size"] == size)
            r = c["round_trip_ms"]
            note = f" ({c['errors']} errors)" if c["errors"] else ""
            row.append(f"{r['p50']:.2f} / {r['p99']:.2f} ms{note}")
        print(f"| {size} | " + " | ".join(row) + " |")
