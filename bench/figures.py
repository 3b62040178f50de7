"""The benchmark figures. Each function returns a JSON-ready dict; none of
them asserts a duration."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import time
import zlib
from pathlib import Path

from common import (
    BIN,
    HOSTILE,
    OUT,
    REPO,
    SHOP,
    Launch,
    ModelServer,
    Scratch,
    Typist,
    base_env,
    copy_workspace,
    corpus_text,
    make_document,
    ms,
    open_doc,
    pct,
    registry_crate,
    rust_files,
    summary,
)
from lsp import Doc, LspError, Server, completion_texts, inline_texts, now
from model_server import answer_for

KIB = 1024
SIZES = [("1 KB", 1 * KIB), ("100 KB", 100 * KIB), ("10 MB", 10 * KIB * KIB)]


def log(msg: str) -> None:
    print(f"  · {msg}", flush=True)


class Context:
    """What every figure shares: scratch space, how to launch the server,
    the loopback model (if Cordon honours the config) and real code."""

    def __init__(self, scratch: Scratch, launch: Launch, model: ModelServer, quick: bool):
        self.scratch = scratch
        self.launch = launch
        self.model = model
        self.quick = quick
        self.backend = "unknown"  # "loopback" once the config is seen honoured, else "local"
        self.code, self.code_source = corpus_text()
        self._workspace: Path | None = None

    def workspace(self) -> Path:
        """A copy of the `shop` fixture: a small real workspace (the local
        model indexes it; plugins see workspace-relative paths)."""
        if self._workspace is None:
            self._workspace = copy_workspace(self.scratch, SHOP, "shop")
        return self._workspace

    @property
    def loopback(self) -> bool:
        return self.backend == "loopback"


def reply_texts(method: str, reply) -> list[str]:
    if reply.error:
        return []
    return inline_texts(reply.result) if method == "inline" else completion_texts(reply.result)


def send(doc: Doc, method: str, trigger_kind: int = 1) -> int:
    return doc.inline(trigger_kind) if method == "inline" else doc.completion()


# -- 2. editor-visible overhead --------------------------------------------


class Session:
    """One server with one open document of a given size."""

    def __init__(self, ctx: "Context", label: str, size: int):
        text, cursor, indent = make_document(ctx.code, size)
        self.label = label
        self.bytes = len(text.encode("utf-8"))
        self.server = ctx.launch.start(ctx.workspace(), f"overhead-{size}")
        t = now()
        self.doc = open_doc(self.server, ctx.workspace(), "bench_doc.rs", text, cursor)
        self.server.stats()  # the didOpen has been processed
        self.did_open_ms = ms(now() - t)
        self.typist = Typist(indent)


def measure_interleaved(ctx: Context, sessions: list[Session], method: str, n: int, warmup: int) -> list[dict]:
    """Type one character, then send one request and wait for its answer,
    round-robin over the sessions (so a change of the machine's load hits
    every document size alike), `warmup + n` rounds; the round trips of the
    last `n` rounds, matched with the loopback server's log (one model call
    per request, in order: requests never overlap)."""
    for _ in range(warmup):
        for se in sessions:
            se.doc.type(se.typist.next())
            se.server.wait(send(se.doc, method))
    stats0 = [se.server.stats() for se in sessions]
    cpu0 = [se.server.cpu_ms() for se in sessions]
    cs0 = [se.server.context_switches()[0] for se in sessions]
    log0 = ctx.model.count()
    rows: list[list[dict]] = [[] for _ in sessions]
    order: list[int] = []
    for _ in range(n):
        for i, se in enumerate(sessions):
            se.doc.type(se.typist.next())
            expected = answer_for(se.doc.prefix_tail())
            reply = se.server.wait(send(se.doc, method))
            texts = reply_texts(method, reply)
            rows[i].append(
                {
                    "sent": reply.sent_ns,
                    "recv": reply.recv_ns,
                    "error": (reply.error or {}).get("message"),
                    "null": reply.result is None and not reply.error,
                    "items": len(texts),
                    "expected_answer": bool(texts) and texts[0] == expected,
                }
            )
            order.append(i)
    cpu1 = [se.server.cpu_ms() for se in sessions]
    cs1 = [se.server.context_switches() for se in sessions]
    stats1 = [se.server.stats() for se in sessions]
    records = ctx.model.records(log0)
    matched = len(records) == len(order)
    per_session_records: list[list[dict]] = [[] for _ in sessions]
    if matched:
        for i, rec in zip(order, records):
            per_session_records[i].append(rec)
    cells = []
    for i, se in enumerate(sessions):
        rs = rows[i]
        rtt = [r["recv"] - r["sent"] for r in rs]
        out = {
            "size": se.label,
            "bytes": se.bytes,
            "method": method,
            "did_open_ms": se.did_open_ms,
            "requests": n,
            "server_cpu_ms_per_request": (cpu1[i] - cpu0[i]) / n,
            "server_context_switches_per_request": (cs1[i][0] - cs0[i]) / n,
            "server_threads": cs1[i][1],
            "round_trip_ms": conv_ms(rtt),
            "errors": sum(1 for r in rs if r["error"]),
            "error_examples": sorted({r["error"] for r in rs if r["error"]})[:3],
            "null_answers": sum(1 for r in rs if r["null"]),
            "empty_answers": sum(1 for r in rs if not r["items"] and not r["error"] and not r["null"]),
            "stats_delta": {k: stats1[i][k] - stats0[i][k] for k in stats1[i] if isinstance(stats1[i][k], int)},
        }
        if ctx.loopback:
            out["answers_as_expected"] = sum(1 for r in rs if r["expected_answer"])
            out["model_calls_seen_by_loopback"] = len(per_session_records[i]) if matched else None
            if matched:
                recs = per_session_records[i]
                model = [rec["t_done_ns"] - rec["t_first_ns"] for rec in recs]
                out["model_server_ms"] = conv_ms(model)
                out["tcp_connections_used"] = len({rec.get("connection") for rec in recs})
                out["overhead_ms"] = conv_ms([(r["recv"] - r["sent"]) - m for r, m in zip(rs, model)])
                out["before_model_ms"] = conv_ms([rec["t_first_ns"] - r["sent"] for r, rec in zip(rs, recs)])
                out["after_model_ms"] = conv_ms([r["recv"] - rec["t_done_ns"] for r, rec in zip(rs, recs)])
                out["overhead_rule"] = "round trip minus the loopback server's own time for that request (first byte in to last byte out)"
            else:
                med = pct([rec["t_done_ns"] - rec["t_first_ns"] for rec in records], 0.5) or 0
                out["overhead_ms"] = conv_ms([x - med for x in rtt])
                out["overhead_rule"] = f"round trip minus the median model-server time ({len(records)} model calls for {len(order)} requests: not one each)"
        else:
            out["overhead_ms"] = out["round_trip_ms"]
            out["overhead_rule"] = "built-in local model (in process): overhead = round trip, model included"
        cells.append(out)
    return cells


def detect_backend(ctx: Context) -> dict:
    """Start a server with the loopback configuration and see whether a
    completion reaches the loopback model."""
    ws = ctx.workspace()
    info = {"config_flag": ctx.launch.config_flag, "config": str(ctx.launch.config)}
    before = ctx.model.count()
    server = ctx.launch.start(ws, "detect")
    try:
        text, cursor, indent = make_document(ctx.code, 1 * KIB)
        doc = open_doc(server, ws, "bench_detect.rs", text, cursor)
        doc.type("a")
        reply = server.wait(doc.inline(1))
        info["reply"] = reply.result if not reply.error else {"error": reply.error}
        info["shown"] = server.messages_shown()
    finally:
        server.close()
    info["loopback_requests"] = ctx.model.count() - before
    ctx.backend = "loopback" if info["loopback_requests"] > 0 else "local"
    info["backend"] = ctx.backend
    return info


def conv_ms(values: list[float]) -> dict:
    return {k: (ms(v) if k != "n" and v is not None else v) for k, v in summary(values).items()}


def direct_floor(ctx: Context, latency: float, n: int) -> dict:
    """The loopback model called directly by a Python client on a kept-alive
    connection, with the same latency: its round trip, the server's own time,
    and the difference (HTTP on loopback plus waking two idle processes —
    part of every overhead figure below without being Cordon's)."""
    ctx.model.set_latency(latency)
    since = ctx.model.count()
    rtt = ctx.model.own_round_trip_ns(n, ctx.code[:8192])
    recs = ctx.model.records(since)
    ctx.model.set_latency(0)
    own = [r["t_done_ns"] - r["t_first_ns"] for r in recs]
    out = {"round_trip_ms": conv_ms(rtt), "server_ms": conv_ms(own)}
    if len(own) == len(rtt):
        out["round_trip_minus_server_ms"] = conv_ms([a - b for a, b in zip(rtt, own)])
    return out


def lsp_floor(server: Server, n: int, idle_s: float) -> dict:
    """`cordon/stats` round trips (no plugin, no model): the LSP transport's
    own cost, back to back or after `idle_s` of quiet (waking the server)."""
    rtt = []
    cs0 = server.context_switches()[0]
    for _ in range(n):
        if idle_s:
            time.sleep(idle_s)
        rtt.append(server.call("cordon/stats").elapsed_ns)
    out = {"round_trip_ms": conv_ms(rtt), "idle_before_ms": idle_s * 1000}
    if not idle_s:
        out["server_context_switches_per_request"] = (server.context_switches()[0] - cs0) / n
    return out


def overhead(ctx: Context) -> dict:
    n = 40 if ctx.quick else 300
    warmup = 10 if ctx.quick else 30
    latencies = [0, 20] if ctx.loopback else [0]
    out = {"backend": ctx.backend, "requests_per_cell": n, "warmup": warmup, "cells": [], "floors": {}}
    if ctx.loopback:
        for latency in latencies:
            out["floors"][f"model_direct_{latency}ms"] = direct_floor(ctx, latency, 50 if ctx.quick else 200)
    sessions: list[Session] = []
    try:
        for label, size in SIZES:
            sessions.append(Session(ctx, label, size))
        first = sessions[0].server
        out["floors"]["lsp_stats_hot"] = lsp_floor(first, 100 if ctx.quick else 300, 0.0)
        out["floors"]["lsp_stats_after_20ms_idle"] = lsp_floor(first, 30 if ctx.quick else 100, 0.020)
        for latency in latencies:
            ctx.model.set_latency(latency)
            for method in ("inline", "completion"):
                log(f"model {latency} ms, {method}: 1 KB / 100 KB / 10 MB interleaved")
                for cell in measure_interleaved(ctx, sessions, method, n, warmup):
                    cell["latency_ms"] = latency
                    out["cells"].append(cell)
        out["rss_kb_after"] = {se.label: se.server.rss_kb() for se in sessions}
    finally:
        for se in sessions:
            se.server.close()
    ctx.model.set_latency(0)
    out["interleaved"] = True
    return out


# -- 3. typing burst -------------------------------------------------------


def burst(ctx: Context) -> dict:
    reps = 1 if ctx.quick else 3
    latencies = [0, 20] if ctx.loopback else [0]
    keys = 100
    spacing_s = 0.030
    ws = ctx.workspace()
    text, cursor, indent = make_document(ctx.code, 100 * KIB)
    server = ctx.launch.start(ws, "burst")
    out = {"backend": ctx.backend, "keys": keys, "spacing_ms": spacing_s * 1000, "document": "100 KB", "runs": []}
    try:
        doc = open_doc(server, ws, "bench_burst.rs", text, cursor)
        for latency in latencies:
            ctx.model.set_latency(latency)
            for rep in range(reps):
                log(f"burst {rep + 1}/{reps}, model {latency} ms")
                doc.type(";\n" + indent + f"let burst_{latency}_{rep} = ")
                server.wait(doc.inline(1))  # settle; not counted
                time.sleep(0.3)
                stats0 = server.stats()
                log0 = ctx.model.count()
                sends = []  # (t_keystroke, version, request id, expected answer)
                start = time.monotonic()
                for k in range(keys):
                    target = start + k * spacing_s
                    while (left := target - time.monotonic()) > 0:
                        server.pump(left)
                    t_key = now()
                    doc.type("abcdefghijklmnopqrstuvwxyz"[k % 26])
                    rid = doc.inline(2)
                    sends.append((t_key, doc.version, rid, answer_for(doc.prefix_tail())))
                deadline = time.monotonic() + 10
                while any(s[2] not in server.replies for s in sends) and time.monotonic() < deadline:
                    server.pump(deadline - time.monotonic())
                server.pump(0.5)  # the pause
                stats1 = server.stats()
                records = ctx.model.records(log0)
                t_last_key = sends[-1][0]
                key_times = [s[0] for s in sends]
                shown, stale, wrong_text = [], [], []
                for i, (t_key, version, rid, expected) in enumerate(sends):
                    reply = server.replies.pop(rid, None)
                    if reply is None or reply.error:
                        continue
                    texts = inline_texts(reply.result)
                    if not texts:
                        continue
                    # The text the editor has when the answer arrives.
                    latest = max(j for j, t in enumerate(key_times) if t <= reply.recv_ns)
                    shown.append({"keystroke": i, "arrived_after_keystroke": latest, "ms_after_last_key": ms(reply.recv_ns - t_last_key)})
                    if latest != i:
                        stale.append(i)
                    if ctx.loopback and texts[0] != sends[latest][3]:
                        wrong_text.append(i)
                last_reply_ms = None
                if shown and shown[-1]["keystroke"] == keys - 1:
                    last_reply_ms = shown[-1]["ms_after_last_key"]
                out["runs"].append(
                    {
                        "latency_ms": latency,
                        "model_calls_loopback": len(records),
                        "stats_delta": {k: stats1[k] - stats0[k] for k in stats1 if isinstance(stats1[k], int)},
                        "answers_shown": len(shown),
                        "stale_shown": len(stale),
                        "shown_not_matching_latest_text": len(wrong_text) if ctx.loopback else None,
                        "last_key_to_suggestion_ms": last_reply_ms,
                        "shown": shown[:5],
                        "burst_duration_ms": ms(sends[-1][0] - sends[0][0]),
                    }
                )
    finally:
        server.close()
    ctx.model.set_latency(0)
    return out


# -- 3b. an explanation streaming into progress ----------------------------


def explain_stream(ctx: Context) -> dict:
    """`cordon.explain` with a work-done token against a model that writes
    its answer in pieces: when the first text reaches the editor, compared
    with when the model wrote it, and when the whole answer arrives."""
    if not ctx.loopback:
        return {"skipped": "needs the loopback model (chat requests)"}
    n = 3 if ctx.quick else 10
    pieces, gap_ms = 20, 25
    ws = ctx.workspace()
    text, cursor, _ = make_document(ctx.code, 100 * KIB)
    server = ctx.launch.start(ws, "explain")
    ctx.model.set_stream(pieces, gap_ms)
    out = {"backend": ctx.backend, "pieces": pieces, "gap_ms": gap_ms, "samples": []}
    try:
        doc = open_doc(server, ws, "bench_explain.rs", text, cursor)
        for i in range(n):
            log(f"explain {i + 1}/{n}: {pieces} pieces, {gap_ms} ms apart")
            since = ctx.model.count()
            token = f"bench-explain-{i}"
            server.progress.clear()
            rid = server.send_request("workspace/executeCommand", {
                "command": "cordon.explain",
                "arguments": [{"uri": doc.uri, "range": {"start": doc.position(), "end": doc.position()}}],
                "workDoneToken": token,
            })
            reply = server.wait(rid, 30)
            server.pump(0.2)  # the progress end
            records = [r for r in ctx.model.records(since) if "t_pieces_ns" in r]
            if reply.error or len(records) != 1:
                out["samples"].append({"error": reply.error or f"{len(records)} streamed model requests"})
                continue
            written = records[0]["t_pieces_ns"]
            reports = [(t, p["value"]) for t, p in server.progress
                       if p.get("token") == token and p["value"].get("kind") == "report"]
            ends = [t for t, p in server.progress if p.get("token") == token and p["value"].get("kind") == "end"]
            first_text = next((t for t, v in reports if v.get("message")), None)
            out["samples"].append({
                "request_to_first_piece_written_ms": ms(written[0] - reply.sent_ns),
                "first_piece_written_to_shown_ms": ms(first_text - written[0]) if first_text else None,
                "last_piece_written_to_answer_ms": ms(reply.recv_ns - written[-1]),
                "request_to_answer_ms": ms(reply.elapsed_ns),
                "reports": len(reports),
                "last_report_is_the_answer": bool(reports) and str(reports[-1][1].get("message")).strip() == records[0]["text"].strip(),
                "answer_is_the_model_text": reply.result == records[0]["text"].strip(),
                "progress_ended": bool(ends),
            })
    finally:
        server.close()
        ctx.model.set_stream(0, 0)
    good = [x for x in out["samples"] if "error" not in x]
    for key in ("request_to_first_piece_written_ms", "first_piece_written_to_shown_ms",
                "last_piece_written_to_answer_ms", "request_to_answer_ms", "reports"):
        values = [x[key] for x in good if x[key] is not None]
        out[key] = summary(values) if values else None
    out["all_reports_end_with_the_answer"] = all(x["last_report_is_the_answer"] and x["answer_is_the_model_text"] and x["progress_ended"] for x in good) and bool(good)
    return out


# -- 3c. cancellation -------------------------------------------------------


def cancellation(ctx: Context) -> dict:
    """How soon a model request Cordon no longer needs is dropped: an inline
    completion is sent (invoked, so not debounced), and once the loopback
    model holds it (200 ms latency) the editor either cancels it
    (`$/cancelRequest`) or supersedes it (one more keystroke and a new
    request). Measured from that message to the model server seeing the
    connection close, and to the reply to the old request."""
    if not ctx.loopback:
        return {"skipped": "needs the loopback model"}
    n = 6 if ctx.quick else 20
    ws = ctx.workspace()
    text, cursor, indent = make_document(ctx.code, 100 * KIB)
    server = ctx.launch.start(ws, "cancel")
    ctx.model.set_latency(200)
    ctx.model.watch_drops(True)
    out = {"backend": ctx.backend, "model_latency_ms": 200, "samples": []}
    try:
        doc = open_doc(server, ws, "bench_cancel.rs", text, cursor)
        typist = Typist(indent)
        for i in range(n):
            mode = "cancel" if i % 2 == 0 else "supersede"
            doc.type(typist.next())
            arrived, since = ctx.model.arrived(), ctx.model.count()
            rid = doc.inline(1)
            deadline = time.monotonic() + 10
            while ctx.model.arrived() == arrived and time.monotonic() < deadline:
                server.pump(0.002)
            t_cancel = now()
            newer = None
            if mode == "cancel":
                server.notify("$/cancelRequest", {"id": rid})
            else:
                doc.type(typist.next())
                newer = doc.inline(1)
            reply = server.wait(rid, 10)
            dropped = None
            deadline = time.monotonic() + 5
            while dropped is None and time.monotonic() < deadline:
                dropped = next((r for r in ctx.model.records(since) if "dropped_ns" in r), None)
                if dropped is None:
                    server.pump(0.005)
            if newer is not None:
                server.wait(newer, 10)
            out["samples"].append({
                "mode": mode,
                "to_model_drop_ms": ms(dropped["dropped_ns"] - t_cancel) if dropped else None,
                "to_reply_ms": ms(reply.recv_ns - t_cancel),
                "reply": "cancelled" if (reply.error or {}).get("code") == -32800 else ("null" if reply.result is None else "answer"),
            })
    finally:
        server.close()
        ctx.model.watch_drops(False)
        ctx.model.set_latency(0)
    for mode in ("cancel", "supersede"):
        rows = [x for x in out["samples"] if x["mode"] == mode]
        drops = [x["to_model_drop_ms"] for x in rows if x["to_model_drop_ms"] is not None]
        out[mode] = {
            "n": len(rows),
            "model_request_dropped": len(drops),
            "to_model_drop_ms": summary(drops) if drops else None,
            "to_reply_ms": summary([x["to_reply_ms"] for x in rows]) if rows else None,
            "replies": {k: sum(1 for x in rows if x["reply"] == k) for k in ("cancelled", "null", "answer")},
        }
    return out


# -- 4. cold start ---------------------------------------------------------


def cold_start(ctx: Context) -> dict:
    empty_runs = 1 if ctx.quick else 3
    warm_runs = 3 if ctx.quick else 10
    ws = ctx.workspace()
    text, cursor, indent = make_document(ctx.code, 1 * KIB)
    out = {"backend": ctx.backend, "empty": [], "warm": []}

    def one(cache: Path, name: str) -> dict:
        server = ctx.launch.start(ws, name, cache_dir=cache, initialize=False)
        try:
            t0 = server.spawn_ns
            server.initialize(ws)
            t_init = now()
            doc = open_doc(server, ws, "bench_cold.rs", text, cursor)
            doc.type("a")
            reply = server.wait(doc.inline(1), 120)
            t_answer = reply.recv_ns
            return {
                "initialize_ms": ms(t_init - t0),
                "first_answer_ms": ms(t_answer - t0),
                "answered": not reply.error,
                "items": len(inline_texts(reply.result)) if not reply.error else 0,
                "error": reply.error,
            }
        finally:
            server.close()

    for i in range(empty_runs):
        cache = ctx.scratch.fresh_dir("empty-cache")
        log(f"empty cache {i + 1}/{empty_runs}")
        out["empty"].append(one(cache, "cold-empty"))
    warm = ctx.scratch.fresh_dir("warm-cache")
    one(warm, "cold-fill")
    for i in range(warm_runs):
        log(f"warm cache {i + 1}/{warm_runs}")
        out["warm"].append(one(warm, "cold-warm"))
    for key in ("empty", "warm"):
        out[f"{key}_first_answer_ms"] = summary([r["first_answer_ms"] for r in out[key]])
        out[f"{key}_initialize_ms"] = summary([r["initialize_ms"] for r in out[key]])
    return out


# -- 5. memory -------------------------------------------------------------


def memory(ctx: Context) -> dict:
    total = 1000 if ctx.quick else 10_000
    step = total // 10
    ws = ctx.workspace()
    server = ctx.launch.start(ws, "memory")
    out = {"backend": ctx.backend, "requests": total, "plugins": "the three built-in plugins", "workspace": "tests/fixtures/shop"}
    try:
        time.sleep(1.0)
        out["idle_after_initialize_kb"] = server.rss_kb()
        # CPU used while nothing happens (timers, tickers): a laptop's battery.
        idle_s = 2.0 if ctx.quick else 5.0
        c0, cs0, t0 = server.cpu_ms(), server.context_switches()[0], time.monotonic()
        time.sleep(idle_s)
        c1, cs1, t1 = server.cpu_ms(), server.context_switches()[0], time.monotonic()
        out["idle_cpu_ms_per_s"] = (c1 - c0) / (t1 - t0)
        out["idle_context_switches_per_s"] = (cs1 - cs0) / (t1 - t0)
        out["idle_cpu_window_s"] = idle_s
        text, cursor, indent = make_document(ctx.code, 100 * KIB)
        doc = open_doc(server, ws, "bench_mem.rs", text, cursor)
        server.stats()
        out["after_open_100kb_kb"] = server.rss_kb()
        typist = Typist(indent)
        curve = []
        errors = 0
        t = now()
        for i in range(1, total + 1):
            doc.type(typist.next())
            reply = server.wait(doc.inline(1))
            errors += bool(reply.error)
            if i % step == 0:
                curve.append({"requests": i, **server.rss_kb()})
                log(f"{i} requests: VmRSS {curve[-1]['VmRSS'] / 1024:.1f} MiB")
        out["requests_per_s"] = total / ((now() - t) / 1e9)
        out["errors"] = errors
        out["curve_kb"] = curve
        time.sleep(1.0)
        out["idle_after_requests_kb"] = server.rss_kb()
        out["stats"] = server.stats()
        first, last = curve[0]["VmRSS"], curve[-1]["VmRSS"]
        half = curve[len(curve) // 2 - 1]["VmRSS"]
        out["growth_kb"] = out["idle_after_requests_kb"]["VmRSS"] - out["after_open_100kb_kb"]["VmRSS"]
        out["growth_second_half_kb"] = last - half
        out["document_growth_chars"] = doc.typed
    finally:
        server.close()
    return out


# -- 6. isolation ----------------------------------------------------------


def isolation(ctx: Context) -> dict:
    n_quiet = 50 if ctx.quick else 200
    n_spin = 8 if ctx.quick else 40
    ws = ctx.workspace()
    plugin_dir = ctx.scratch.fresh_dir("hostile-plugins")
    if not HOSTILE.is_file():
        return {"skipped": f"{HOSTILE} is missing (build tests/plugins for wasm32-wasip2)"}
    shutil.copy(HOSTILE, plugin_dir / HOSTILE.name)
    out = {"backend": ctx.backend, "method": "textDocument/completion", "cases": {}}
    cases = [
        ("alone", (), None, n_quiet),
        ("hostile quiet", (plugin_dir,), "cordon-test:ok", n_quiet),
        ("hostile spinning", (plugin_dir,), "cordon-test:loop", n_spin),
    ]
    for name, dirs, marker, n in cases:
        text, cursor, indent = make_document(ctx.code, 100 * KIB)
        if marker:
            # A comment line above the cursor line: inside the plugin's prefix.
            line_start = text.rfind("\n", 0, cursor) + 1
            text = text[:line_start] + indent + f"// {marker}\n" + text[line_start:]
            cursor += len(indent) + len(marker) + 4
        server = ctx.launch.start(ws, f"isolation-{name.replace(' ', '-')}", plugin_dirs=dirs)
        try:
            log(f"{name}: {n} completions")
            loaded = server.messages_shown()
            doc = open_doc(server, ws, "bench_iso.rs", text, cursor)
            typist = Typist(indent)
            for _ in range(3):
                doc.type(typist.next())
                server.wait(doc.completion(), 60)
            rtt, with_items, hostile_items = [], 0, 0
            cpu0 = server.cpu_ms()
            for _ in range(n):
                doc.type(typist.next())
                expected = answer_for(doc.prefix_tail())
                reply = server.wait(doc.completion(), 60)
                rtt.append(reply.elapsed_ns)
                texts = completion_texts(reply.result) if not reply.error else []
                if (expected in texts) if ctx.loopback else any(t != "hostile-ok" for t in texts):
                    with_items += 1
                hostile_items += sum(1 for t in texts if t == "hostile-ok")
            time.sleep(0.3)  # let a dropped straggler's CPU show up
            cpu = server.cpu_ms() - cpu0
            out["cases"][name] = {
                "requests": n,
                "server_cpu_ms_per_request": cpu / n,
                "round_trip_ms": {k: (ms(v) if k != "n" else v) for k, v in summary(rtt).items()},
                "answers_with_the_completion_plugins_item": with_items,
                "hostile_items": hostile_items,
                "messages_shown": loaded,
                "stats": server.stats(),
            }
        finally:
            server.close()
    c = out["cases"]
    out["p99_ratio_spinning_vs_alone"] = c["hostile spinning"]["round_trip_ms"]["p99"] / c["alone"]["round_trip_ms"]["p99"]
    out["p50_ratio_spinning_vs_alone"] = c["hostile spinning"]["round_trip_ms"]["p50"] / c["alone"]["round_trip_ms"]["p50"]
    out["p99_ratio_quiet_vs_alone"] = c["hostile quiet"]["round_trip_ms"]["p99"] / c["alone"]["round_trip_ms"]["p99"]
    return out


# -- 7. the local model ----------------------------------------------------

TOKEN = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*|0x[0-9A-Fa-f_]+|\d[\d_]*(?:\.\d[\d_]*)?(?:[a-z]\w*)?"
    r"|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])'|'[A-Za-z_]\w*"
    r"|::|->|=>|==|!=|<=|>=|&&|\|\||\+=|-=|\*=|/=|%=|\^=|&=|\|=|<<=?|>>=?|\.\.=?|\S"
)
COMMENT = re.compile(r"^\s*(//|/\*|\*)")


def split_corpus(root: Path) -> tuple[list[Path], list[Path]]:
    """Held out: files whose path's CRC-32 is 0 mod 10 (deterministic,
    about 10 %); the rest is indexed."""
    train, held = [], []
    for p in rust_files(root):
        rel = p.relative_to(root).as_posix()
        (held if zlib.crc32(rel.encode()) % 10 == 0 else train).append(p)
    return train, held


def count_lines(files: list[Path]) -> int:
    return sum(p.read_text(encoding="utf-8", errors="replace").count("\n") for p in files)


def samples_from(held: list[Path], per_file: int, cap: int, seed: int = 7) -> list[dict]:
    """Cursor positions in held-out files. `line`: at the start of a code
    line (after its indentation) — the answer's first line against the real
    line. `token`: after the k-th token of a code line (k ≥ 1) — the
    answer's first token and rest of line against the real ones. Comment
    lines are skipped (doc prose is not code completion)."""
    rng = random.Random(seed)
    out = []
    for path in held:
        text = path.read_text(encoding="utf-8", errors="replace")
        lines = text.split("\n")
        starts = [0]
        for line in lines[:-1]:
            starts.append(starts[-1] + len(line) + 1)
        code = [i for i, l in enumerate(lines) if i > 0 and l.strip() and not COMMENT.match(l)]
        rng.shuffle(code)
        for i in code[:per_file]:
            line = lines[i]
            indent = len(line) - len(line.lstrip())
            out.append({"file": path.name, "kind": "line", "cursor": starts[i] + indent, "expected": line.strip(), "text": text})
        rng.shuffle(code)
        taken = 0
        for i in code:
            if taken >= per_file:
                break
            line = lines[i]
            toks = list(TOKEN.finditer(line))
            if len(toks) < 2:
                continue
            k = rng.randrange(1, len(toks))
            at = toks[k - 1].end()
            out.append(
                {
                    "file": path.name,
                    "kind": "token",
                    "cursor": starts[i] + at,
                    "expected": toks[k].group(0),
                    "expected_rest": line[at:].rstrip(),
                    "text": text,
                }
            )
            taken += 1
    rng.shuffle(out)
    lines_ = [s for s in out if s["kind"] == "line"][:cap]
    tokens = [s for s in out if s["kind"] == "token"][:cap]
    return lines_ + tokens


def first_token(text: str) -> str | None:
    m = TOKEN.search(text.lstrip())
    return m.group(0) if m else None


def judge(sample: dict, proposal: str | None) -> dict:
    answered = bool(proposal and proposal.split("\n", 1)[0].strip())
    first_line = proposal.split("\n", 1)[0].rstrip() if proposal else ""
    if sample["kind"] == "line":
        exact = answered and first_line.strip() == sample["expected"]
        prefix_ok = answered and sample["expected"].startswith(first_line.strip())
        return {"answered": answered, "exact": exact, "prefix_ok": prefix_ok}
    token_ok = answered and first_token(proposal) == sample["expected"]
    rest_exact = answered and first_line.strip() == sample["expected_rest"].strip()
    prefix_ok = answered and sample["expected_rest"].lstrip().startswith(first_line.strip())
    return {"answered": answered, "exact": token_ok, "rest_exact": rest_exact, "prefix_ok": prefix_ok}


def local_model(ctx: Context) -> dict:
    tokio = registry_crate("tokio")
    if tokio is None:
        return {"skipped": "no tokio source in ~/.cargo/registry/src"}
    src = tokio / "src"
    train, held = split_corpus(src)
    ws_full = ctx.scratch.fresh_dir("tokio-train")
    for p in train:
        dest = ws_full / p.relative_to(src)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(p, dest)
    ws_half = ctx.scratch.fresh_dir("tokio-train-half")
    half = train[::2]
    for p in half:
        dest = ws_half / p.relative_to(src)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(p, dest)
    empty = ctx.scratch.fresh_dir("empty-workspace")
    out = {
        "corpus": str(src),
        "split": "held out: crc32(relative path) % 10 == 0",
        "files_indexed": len(train),
        "files_held_out": len(held),
        "lines_indexed": count_lines(train),
        "lines_held_out": count_lines(held),
        "backend": "local (no configuration)",
    }
    # Index time and memory: initialize with the workspace minus initialize
    # with an empty one (plugins from a warm cache in both).
    reps = 2 if ctx.quick else 5
    runs = {"empty": [], "half": [], "full": []}
    workspaces = {"empty": empty, "half": ws_half, "full": ws_full}
    indexed = {}
    for rep in range(reps):
        for key in ("empty", "half", "full"):
            log(f"index {key} {rep + 1}/{reps}")
            server = ctx.launch.start(workspaces[key], f"index-{key}", use_config=False, log="cordon=info", initialize=False)
            try:
                t0 = now()
                server.initialize(workspaces[key])
                t_init = ms(now() - t0)
                time.sleep(0.3)
                rss = server.rss_kb()["VmRSS"]
                runs[key].append({"initialize_ms": t_init, "rss_kb": rss})
            finally:
                server.close()
            m = re.search(r"files=(\d+).*?tokens=(\d+)", Path(server.stderr_file.name).read_text(errors="replace"))
            if m:
                indexed[key] = {"files": int(m.group(1)), "tokens": int(m.group(2))}
    med = lambda key, f: pct([r[f] for r in runs[key]], 0.5)
    out["index_runs"] = runs
    out["index_log"] = indexed
    for key, files in (("half", half), ("full", train)):
        lines = count_lines(files)
        t = med(key, "initialize_ms") - med("empty", "initialize_ms")
        mem = (med(key, "rss_kb") - med("empty", "rss_kb")) / 1024
        out[f"index_{key}"] = {
            "lines": lines,
            "index_ms": t,
            "index_ms_per_10k_lines": t / (lines / 10_000),
            "rss_mib": mem,
            "rss_mib_per_10k_lines": mem / (lines / 10_000),
        }

    # Quality and latency through the LSP: one server over the 90 %, each
    # sample opened (not written to disk, so never indexed) cut at the cursor.
    per_file = 6 if ctx.quick else 40
    cap = 80 if ctx.quick else 600
    samples = samples_from(held, per_file, cap)
    server = ctx.launch.start(ws_full, "local-quality", use_config=False)
    results = []
    try:
        log(f"quality: {len(samples)} samples")
        for i, s in enumerate(samples):
            text = s["text"][: s["cursor"]]
            doc = Doc.open(server, ws_full / "held_out" / f"sample_{i}.rs", text, len(text))
            reply = server.wait(doc.inline(1))
            texts = inline_texts(reply.result) if not reply.error else []
            proposal = texts[0] if texts else None
            results.append({"kind": s["kind"], "rtt_ns": reply.elapsed_ns, "proposal": proposal, "error": reply.error, **judge(s, proposal)})
            doc.close()
        out["stats"] = server.stats()
    finally:
        server.close()
    for kind in ("line", "token"):
        rs = [r for r in results if r["kind"] == kind]
        if not rs:
            continue
        answered = [r for r in rs if r["answered"]]
        block = {
            "samples": len(rs),
            "answered": len(answered) / len(rs),
            "exact": sum(r["exact"] for r in rs) / len(rs),
            "exact_when_answered": (sum(r["exact"] for r in answered) / len(answered)) if answered else None,
            "prefix_ok_when_answered": (sum(r["prefix_ok"] for r in answered) / len(answered)) if answered else None,
            "errors": sum(1 for r in rs if r["error"]),
        }
        if kind == "token":
            block["rest_of_line_exact"] = sum(r["rest_exact"] for r in rs) / len(rs)
        out[f"quality_{kind}"] = block
    out["latency_ms"] = {k: (ms(v) if k != "n" else v) for k, v in summary([r["rtt_ns"] for r in results]).items()}
    out["latency_rule"] = "inlineCompletion (Invoked) round trip through `cordon lsp`, document opened just before"

    # Cross-check a few samples through the one-shot CLI (a process per
    # sample: start, index the 90 %, answer).
    n_cli = 2 if ctx.quick else 5
    cli = []
    tmp = ctx.scratch.fresh_dir("cli-samples")
    pairs = list(zip(samples, results))
    chosen = [p for p in pairs if p[1]["proposal"]][: n_cli - 1] + [p for p in pairs if not p[1]["proposal"]][:1]
    for i, (s, r) in enumerate(chosen):
        text = s["text"][: s["cursor"]]
        f = tmp / f"sample_{i}.rs"
        f.write_text(text)
        line = text.count("\n") + 1
        col = len(text) - (text.rfind("\n") + 1) + 1
        env = base_env(ctx.scratch)
        t = now()
        proc = subprocess.run(
            [str(BIN), "run", "complete", f"{f}:{line}:{col}", "--json", "--workspace", str(ws_full)],
            capture_output=True,
            text=True,
            env=env,
        )
        wall = ms(now() - t)
        try:
            got = json.loads(proc.stdout)
            items = [it for res in got["results"] if res.get("plugin") == "completion" for it in res.get("items", [])]
            cli_text = items[0]["insert_text"] if items else None
        except (ValueError, KeyError):
            cli_text = f"unparsed: {proc.stdout[:200]!r} {proc.stderr[:200]!r}"
        cli.append({"wall_ms": wall, "same_as_lsp": cli_text == r["proposal"], "cli": cli_text, "lsp": r["proposal"]})
    out["cli_cross_check"] = cli
    out["examples"] = [
        {k: r[k] for k in ("kind", "proposal", "exact")} | {"expected": s.get("expected")}
        for s, r in list(zip(samples, results))[:6]
    ]
    return out


def local_lists(ctx: Context) -> dict:
    """Completion lists and ghost text of the local model on held-out code,
    with Vim-style word completion side by side: the local-model crate's
    `figures` example (in-process, one thread) on a Rust and a Python corpus,
    files split 90/10 by crc32 of the path, positions at identifier starts
    with 0–3 characters typed."""
    corpora = []
    tokio = registry_crate("tokio")
    if tokio is not None:
        corpora.append(str(tokio / "src"))
    pythons = sorted(Path("/usr/lib").glob("python3.*[0-9]"))
    if pythons:
        corpora.append(f"{pythons[-1]}/*")
    if not corpora:
        return {"skipped": "no tokio source in ~/.cargo/registry/src and no /usr/lib/python3.*"}
    samples = 600 if ctx.quick else 3000
    argv = ["cargo", "run", "--quiet", "--release", "-p", "cordon-local-model", "--example", "figures", "--", "--samples", str(samples), *corpora]
    log(" ".join(argv))
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=True)
    return {"command": " ".join(argv[:8] + ["--"] + argv[9:]), "corpora": json.loads(done.stdout)}
