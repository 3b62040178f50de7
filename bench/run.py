#!/usr/bin/env python3
"""Cordon's benchmark suite: one command, a table against the brief's bars,
and JSON to compare between commits.

    python3 bench/run.py            # builds, then the whole suite (a few minutes)
    python3 bench/run.py --quick    # smoke run (~1 minute after the builds)
    python3 bench/run.py --only overhead,burst --no-build

Figures (see BENCHMARKS.md): sandbox cost per call (cargo bench), LSP
round trip and overhead over a loopback model at 1 KB / 100 KB / 10 MB,
typing burst, cold start, memory, isolation from a spinning plugin, and the
built-in `local` model (index cost, latency, quality on held-out tokio code).

Writes target/bench/results.json (and a copy named by commit and time).
Benchmarks, not tests: nothing here fails because something is slow; the
exit status is non-zero only when the harness itself could not run.
Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import figures  # noqa: E402
import peers  # noqa: E402
from common import BIN, HOSTILE, OUT, REPO, TEST_PLUGINS, Launch, Load, ModelServer, Scratch, git_state, machine, supports_config_flag, write_config  # noqa: E402

FIGURES = ["sandbox", "overhead", "burst", "explain", "cancel", "cold", "memory", "isolation", "local", "lists"]


def build(skip: bool, with_sandbox: bool) -> dict:
    steps = [
        (["cargo", "build", "--release", "-p", "cordon"], REPO),
        (["cargo", "build", "--release", "--target", "wasm32-wasip2"], TEST_PLUGINS),
    ]
    if with_sandbox:
        steps.append((["cargo", "bench", "--no-run", "-p", "cordon", "--bench", "sandbox"], REPO))
    out = {}
    for argv, cwd in steps:
        name = " ".join(argv) + ("" if cwd == REPO else f"  (in {cwd.relative_to(REPO)})")
        if skip:
            out[name] = "skipped (--no-build)"
            continue
        print(f"$ {name}", flush=True)
        t = time.monotonic()
        proc = subprocess.run(argv, cwd=cwd)
        out[name] = {"seconds": round(time.monotonic() - t, 1), "status": proc.returncode}
        if proc.returncode != 0:
            raise SystemExit(f"bench: `{name}` failed (status {proc.returncode}); fix the build or pass --no-build")
    return out


def sandbox(quick: bool) -> dict:
    argv = ["cargo", "bench", "-p", "cordon", "--bench", "sandbox"]
    print(f"$ {' '.join(argv)}", flush=True)
    t = time.monotonic()
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": f"status {proc.returncode}", "stderr_tail": proc.stderr[-2000:]}
    data = json.loads((OUT / "sandbox.json").read_text())
    data["seconds"] = round(time.monotonic() - t, 1)
    data["table"] = [l for l in proc.stdout.splitlines() if l.startswith("|")]
    return data


# -- the table -------------------------------------------------------------


def fmt_ms(v: float | None) -> str:
    if v is None:
        return "—"
    if v < 1:
        return f"{v * 1000:.0f} µs"
    if v < 100:
        return f"{v:.2f} ms"
    return f"{v:.0f} ms"


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("meets" if ok else "MISSES")


def table(results: dict) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    f = results["figures"]

    s = f.get("sandbox", {})
    for r in s.get("rows", []):
        ok = r["sandboxed_p50_us"] <= 50 and r["sandboxed_p99_us"] <= 200
        rows.append(
            (f"sandbox: {r['call']}", f"p50 {r['sandboxed_p50_us']:.1f} µs, p99 {r['sandboxed_p99_us']:.1f} µs", "p50 ≤ 50 µs, p99 ≤ 200 µs", verdict(ok))
        )
    for r in s.get("own_work", []):
        ok = r["ratio_p50"] <= 1.5
        rows.append(
            (f"own work, Wasm / native: {r['call']}", f"{r['ratio_p50']:.2f}× ({r['wasm_p50_us']:.2f} / {r['native_p50_us']:.2f} µs); without epoch checks {r['no_epochs_ratio_p50']:.2f}×", "≤ 1.5× on the plugin's own work", verdict(ok))
        )
    if s.get("rows") and not s.get("own_work"):
        rows.append(("own work, Wasm / native", "not measured (see the cargo bench output)", "≤ 1.5× on the plugin's own work", "—"))
    if "error" in s:
        rows.append(("sandbox", f"failed: {s['error']}", "", "—"))

    o = f.get("overhead", {})
    for key, fl in o.get("floors", {}).items():
        if key.startswith("model_direct_"):
            lat = key[len("model_direct_"):]
            extra = fl.get("round_trip_minus_server_ms", {})
            rows.append((f"reference: loopback model called directly, {lat}", f"round trip p50 {fmt_ms(fl['round_trip_ms']['p50'])}; beyond the server's own time p50 {fmt_ms(extra.get('p50'))} p99 {fmt_ms(extra.get('p99'))}", "(harness floor)", "—"))
        else:
            switches = f"; {fl['server_context_switches_per_request']:.0f} context switches per request" if "server_context_switches_per_request" in fl else ""
            rows.append((f"reference: cordon/stats round trip, {'back to back' if not fl['idle_before_ms'] else 'after %.0f ms idle' % fl['idle_before_ms']}", f"p50 {fmt_ms(fl['round_trip_ms']['p50'])} p99 {fmt_ms(fl['round_trip_ms']['p99'])}{switches}", "(LSP transport floor)", "—"))
    cells = {(c["size"], c["latency_ms"], c["method"]): c for c in o.get("cells", [])}
    bars = {"1 KB": 0.75, "100 KB": 0.75, "10 MB": 1.5}
    for (size, lat, method), c in cells.items():
        rt, ov = c["round_trip_ms"], c["overhead_ms"]
        val = f"round trip p50 {fmt_ms(rt['p50'])} p99 {fmt_ms(rt['p99'])}; overhead p50 {fmt_ms(ov['p50'])} p99 {fmt_ms(ov['p99'])}"
        val += f"; server CPU {c['server_cpu_ms_per_request']:.2f} ms and {c.get('server_context_switches_per_request', 0):.0f} context switches per request"
        if c["errors"] or c["null_answers"]:
            val += f" [{c['errors']} errors, {c['null_answers']} null]"
        if lat == 0:
            rows.append((f"LSP {method} {size}, model {lat} ms ({o['backend']})", val, f"round trip p50 ≤ {bars[size]} ms", verdict(rt["p50"] <= bars[size])))
        else:
            rows.append((f"LSP {method} {size}, model {lat} ms ({o['backend']})", val, "— (compare the overhead with the 0 ms row)", "—"))
    for method in ("inline", "completion"):
        a, b = cells.get(("1 KB", 0, method)), cells.get(("10 MB", 0, method))
        if a and b:
            ratio = b["round_trip_ms"]["p50"] / a["round_trip_ms"]["p50"]
            rows.append((f"size scaling {method} 1 KB → 10 MB", f"{ratio:.2f}× (p50 round trip)", "≤ 2×", verdict(ratio <= 2)))

    b = f.get("burst", {})
    for r in b.get("runs", []):
        stats_calls = r["stats_delta"].get("model_requests")
        calls = r["model_calls_loopback"] if b["backend"] == "loopback" else stats_calls
        ok = (1 <= calls <= 2) and r["stale_shown"] == 0
        seen = f"{calls} model calls (loopback log; cordon/stats {stats_calls})" if b["backend"] == "loopback" else f"{calls} model calls (cordon/stats, local model)"
        rows.append(
            (
                f"burst 100 keys/30 ms, model {r['latency_ms']} ms",
                f"{seen}, {r['answers_shown']} shown, {r['stale_shown']} stale, last key → suggestion {fmt_ms(r['last_key_to_suggestion_ms'])}",
                "1–2 model calls, no stale answer",
                verdict(ok),
            )
        )

    e = f.get("explain", {})
    if e.get("request_to_answer_ms"):
        shown, ans = e["first_piece_written_to_shown_ms"], e["request_to_answer_ms"]
        rows.append(
            (
                f"explain streaming into progress ({e['pieces']} pieces {e['gap_ms']} ms apart, n={ans['n']})",
                f"first text shown p50 {fmt_ms(shown['p50'])} p99 {fmt_ms(shown['p99'])} after the model wrote it; "
                f"request → first piece written p50 {fmt_ms(e['request_to_first_piece_written_ms']['p50'])}; "
                f"last piece → answer p50 {fmt_ms(e['last_piece_written_to_answer_ms']['p50'])}; whole answer p50 {fmt_ms(ans['p50'])}; "
                f"{e['reports']['p50']:.0f} reports; every last report = the answer: {'yes' if e['all_reports_end_with_the_answer'] else 'NO'}",
                "—",
                "—",
            )
        )
    elif e.get("skipped"):
        rows.append(("explain streaming into progress", f"skipped: {e['skipped']}", "—", "—"))

    k = f.get("cancel", {})
    for mode, label in (("cancel", "$/cancelRequest"), ("supersede", "a newer request")):
        c = k.get(mode)
        if not c or not c["n"]:
            continue
        drop = c["to_model_drop_ms"]
        rows.append(
            (
                f"cancellation by {label}, model 200 ms (n={c['n']})",
                f"model request dropped in {c['model_request_dropped']}/{c['n']}, p50 {fmt_ms(drop['p50'] if drop else None)} p99 {fmt_ms(drop['p99'] if drop else None)} after the message; "
                f"old request answered p50 {fmt_ms(c['to_reply_ms']['p50'])} after ({c['replies']['cancelled']} cancelled, {c['replies']['null']} null, {c['replies']['answer']} answers)",
                "no late answer",
                verdict(c["replies"]["answer"] == 0 and c["model_request_dropped"] == c["n"]),
            )
        )
    if k.get("skipped"):
        rows.append(("cancellation", f"skipped: {k['skipped']}", "—", "—"))

    c = f.get("cold", {})
    if c.get("warm"):
        rows.append(("cold start, compiled cache warm", f"first answer p50 {fmt_ms(c['warm_first_answer_ms']['p50'])} (initialize {fmt_ms(c['warm_initialize_ms']['p50'])})", "≤ 100 ms", verdict(c["warm_first_answer_ms"]["p50"] <= 100)))
        rows.append(("cold start, compiled cache empty", f"first answer p50 {fmt_ms(c['empty_first_answer_ms']['p50'])} (initialize {fmt_ms(c['empty_initialize_ms']['p50'])})", "—", "—"))

    m = f.get("memory", {})
    if m.get("idle_after_initialize_kb"):
        idle = m["idle_after_initialize_kb"]["VmRSS"] / 1024
        rows.append(("RSS idle, three plugins", f"{idle:.1f} MiB", "≤ 60 MB", verdict(idle * 1.048576 <= 60)))
        rows.append(("CPU while idle", f"{m['idle_cpu_ms_per_s']:.1f} ms per s ({m['idle_cpu_ms_per_s'] / 10:.2f} % of a core), {m.get('idle_context_switches_per_s', 0):.0f} context switches per s", "—", "—"))
        rows.append(
            (
                f"RSS after {m['requests']} requests",
                f"{m['idle_after_requests_kb']['VmRSS'] / 1024:.1f} MiB (growth {m['growth_kb'] / 1024:+.1f} MiB, second half {m['growth_second_half_kb'] / 1024:+.1f} MiB)",
                "bounded",
                "—",
            )
        )

    i = f.get("isolation", {})
    if i.get("cases"):
        cs = i["cases"]
        for name in ("alone", "hostile quiet", "hostile spinning"):
            rt = cs[name]["round_trip_ms"]
            rows.append(
                (
                    f"isolation: completion, {name}",
                    f"p50 {fmt_ms(rt['p50'])} p99 {fmt_ms(rt['p99'])} (n={rt['n']}); completion plugin's item in {cs[name]['answers_with_the_completion_plugins_item']}/{rt['n']}; server CPU {cs[name]['server_cpu_ms_per_request']:.1f} ms/request",
                    "—",
                    "—",
                )
            )
        rows.append(("isolation: p99 spinning / alone", f"{i['p99_ratio_spinning_vs_alone']:.1f}×", "others keep their usual latency", verdict(i["p99_ratio_spinning_vs_alone"] <= 1.5)))

    l = f.get("local", {})
    if l.get("index_full"):
        ix = l["index_full"]
        rows.append((f"local: index {l['lines_indexed']} lines of tokio", f"{ix['index_ms']:.0f} ms, {ix['index_ms_per_10k_lines']:.1f} ms and {ix['rss_mib_per_10k_lines']:.2f} MiB per 10k lines", "—", "—"))
        rows.append(("local: answer latency (LSP)", f"p50 {fmt_ms(l['latency_ms']['p50'])} p99 {fmt_ms(l['latency_ms']['p99'])}", "—", "—"))
        for kind, label in (("line", "next line"), ("token", "next token")):
            q = l.get(f"quality_{kind}")
            if q:
                rows.append(
                    (
                        f"local: {label} exact match (n={q['samples']})",
                        f"{q['exact']:.1%} of samples; answers {q['answered']:.1%}, exact when answering {q['exact_when_answered'] or 0:.1%}",
                        "—",
                        "—",
                    )
                )
    for c in f.get("lists", {}).get("corpora", []):
        lang = c["language"]
        li, vim, gh, lat = c["list"], c["vim"], c["ghost"], c["latency_us"]
        seen = li["seen"]
        rows.append((f"local {lang}: completion list, identifier seen in training (n={seen['n']})", f"top 1 {seen['top1']:.1f} %, top 5 {seen['top5']:.1f} %, top 10 {seen['top10']:.1f} %", "top 5 ≥ 90 %, top 1 ≥ 60 %", verdict(seen["top5"] >= 90 and seen["top1"] >= 60)))
        rows.append((f"local {lang}: completion list, all positions (n={li['all']['n']})", f"top 1 {li['all']['top1']:.1f} %, top 5 {li['all']['top5']:.1f} %; by characters typed 0/1/2/3: top 5 " + " / ".join(f"{t['top5']:.0f}" for t in li["by_typed"]) + " %", "—", "—"))
        rows.append((f"local {lang}: list empty while a workspace word fits", f"{li['empty_while_a_word_fits']} of {li['all']['n']} (empty {li['empty']})", "never", verdict(li["empty_while_a_word_fits"] == 0)))
        rows.append((f"local {lang}: Vim-style word completion, same positions", f"seen: top 1 {vim['seen']['top1']:.1f} %, top 5 {vim['seen']['top5']:.1f} %; all: top 1 {vim['all']['top1']:.1f} %, top 5 {vim['all']['top5']:.1f} %", "(baseline)", "—"))
        rows.append((f"local {lang}: ghost text", f"answers {gh['answers']:.1f} %, right when answering {gh['right_when_answering']:.1f} %; rest of line exact {gh['line_exact']:.1f} %", "answers ≥ 50 %, ≥ 85 % right", verdict(gh["answers"] >= 50 and gh["right_when_answering"] >= 85)))
        rows.append((f"local {lang}: characters per keystroke (1.00 = no help)", f"list {li['chars_per_keystroke']:.2f}, ghost {gh['chars_per_keystroke']:.2f}, Vim {vim['chars_per_keystroke']:.2f}", "—", "—"))
        rows.append((f"local {lang}: index {c['lines_train']} lines (one thread)", f"{c['lines_per_s'] / 1000:.0f}k lines/s; model {c['approx_mib']:.1f} MiB (RSS +{c['rss_delta_mib']:.1f} MiB)", "≥ 500k lines/s; ≤ 30 MiB per 100k lines", verdict(c["lines_per_s"] >= 500_000 and c["rss_delta_mib"] * 100_000 / c["lines_train"] <= 30)))
        rows.append((f"local {lang}: answer latency (in process)", f"list p50 {lat['list_p50']:.0f} µs p99 {lat['list_p99']:.0f} µs; ghost p50 {lat['ghost_p50']:.0f} µs p99 {lat['ghost_p99']:.0f} µs", "p99 ≤ 1 ms", verdict(lat["list_p99"] <= 1000 and lat["ghost_p99"] <= 1000)))
    for name, fig in f.items():
        if isinstance(fig, dict) and "harness_error" in fig:
            rows.append((name, f"harness error: {fig['harness_error'].splitlines()[-1]}", "", "—"))
    return rows


def headline(results: dict) -> dict[str, float]:
    """A flat set of figures (lower is better unless named otherwise) for
    comparing runs: see bench/compare.py."""
    h: dict[str, float] = {}
    f = results["figures"]
    for r in f.get("sandbox", {}).get("rows", []):
        h[f"sandbox {r['call']} p50 µs"] = r["sandboxed_p50_us"]
        h[f"sandbox {r['call']} p99 µs"] = r["sandboxed_p99_us"]
    for r in f.get("sandbox", {}).get("own_work", []):
        h[f"own work {r['call']} wasm/native"] = r["ratio_p50"]
    for c in f.get("overhead", {}).get("cells", []):
        key = f"lsp {c['method']} {c['size']} model {c['latency_ms']} ms"
        h[f"{key} round trip p50 ms"] = c["round_trip_ms"]["p50"]
        h[f"{key} round trip p99 ms"] = c["round_trip_ms"]["p99"]
        h[f"{key} overhead p50 ms"] = c["overhead_ms"]["p50"]
        h[f"{key} overhead p99 ms"] = c["overhead_ms"]["p99"]
        h[f"{key} server CPU ms per request"] = c["server_cpu_ms_per_request"]
        h[f"{key} context switches per request"] = c.get("server_context_switches_per_request", 0)
    for r in f.get("burst", {}).get("runs", []):
        key = f"burst model {r['latency_ms']} ms"
        h[f"{key} model calls"] = r["model_calls_loopback"] if f["burst"]["backend"] == "loopback" else r["stats_delta"].get("model_requests", 0)
        h[f"{key} stale shown"] = r["stale_shown"]
        if r["last_key_to_suggestion_ms"] is not None:
            h[f"{key} last key to suggestion ms"] = r["last_key_to_suggestion_ms"]
    c = f.get("cold", {})
    if c.get("warm"):
        h["cold start warm ms"] = c["warm_first_answer_ms"]["p50"]
        h["cold start empty cache ms"] = c["empty_first_answer_ms"]["p50"]
    m = f.get("memory", {})
    if m.get("idle_after_initialize_kb"):
        h["rss idle MiB"] = m["idle_after_initialize_kb"]["VmRSS"] / 1024
        h["rss after requests MiB"] = m["idle_after_requests_kb"]["VmRSS"] / 1024
        h["idle CPU ms per s"] = m["idle_cpu_ms_per_s"]
        h["idle context switches per s"] = m.get("idle_context_switches_per_s", 0)
    i = f.get("isolation", {})
    if i.get("cases"):
        for name, case in i["cases"].items():
            h[f"isolation {name} p99 ms"] = case["round_trip_ms"]["p99"]
        h["isolation p99 ratio spinning/alone"] = i["p99_ratio_spinning_vs_alone"]
    l = f.get("local", {})
    if l.get("index_full"):
        h["local index ms per 10k lines"] = l["index_full"]["index_ms_per_10k_lines"]
        h["local index MiB per 10k lines"] = l["index_full"]["rss_mib_per_10k_lines"]
        h["local answer p50 ms"] = l["latency_ms"]["p50"]
        for kind in ("line", "token"):
            if l.get(f"quality_{kind}"):
                h[f"local next {kind} exact (higher is better)"] = l[f"quality_{kind}"]["exact"]
    return h


def print_table(rows) -> None:
    print()
    print("| figure | measured | bar | verdict |")
    print("| --- | --- | --- | --- |")
    for r in rows:
        print("| " + " | ".join(r) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description="Cordon benchmark suite")
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer samples (~1 minute after the builds)")
    parser.add_argument("--no-build", action="store_true", help="use the binaries already built")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(FIGURES)}")
    parser.add_argument("--skip", default="", help="comma-separated figures to leave out")
    parser.add_argument("--local", action="store_true", help="no loopback configuration: measure with the built-in local model")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (logs of every server)")
    parser.add_argument("--out", default=str(OUT / "results.json"))
    parser.add_argument("--report", metavar="JSON", help="only print the table of an earlier run")
    parser.add_argument("--peers", action="store_true",
                        help="also measure lsp-ai (installed from the crate registry into target/bench/peers) and llm-ls (with --llm-ls) beside Cordon, interleaved")
    parser.add_argument("--llm-ls", metavar="PATH", type=Path, help="an llm-ls binary for --peers (llm-ls is not in the crate registry)")
    args = parser.parse_args()
    if args.llm_ls and not args.peers:
        parser.error("--llm-ls is for --peers")
    if args.llm_ls and not args.llm_ls.is_file():
        parser.error(f"--llm-ls {args.llm_ls}: no such file")

    if args.report:
        results = json.loads(Path(args.report).read_text())
        print_table(table(results))
        return 0

    wanted = [x for x in (args.only.split(",") if args.only else FIGURES) if x]
    skip = set(x for x in args.skip.split(",") if x)
    unknown = [x for x in wanted + list(skip) if x not in FIGURES + ["peers"]]
    if unknown:
        parser.error(f"unknown figure(s) {unknown}; known: {FIGURES}")
    wanted = [x for x in wanted if x not in skip]
    if args.peers and "peers" not in wanted:
        wanted.append("peers")
    if "peers" in wanted and not args.peers:
        parser.error("the peers figure is measured with --peers")

    started = datetime.datetime.now(datetime.timezone.utc)
    results: dict = {
        "schema": 1,
        "started": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "command": " ".join(["python3", "bench/run.py", *sys.argv[1:]]),
        "machine": machine(),
        "git": git_state(),
        "figures": {},
    }
    total_load = Load()
    results["build"] = build(args.no_build, "sandbox" in wanted)
    if not BIN.is_file():
        print(f"bench: {BIN} is missing", file=sys.stderr)
        return 2
    results["binary"] = {"path": str(BIN), "mtime": datetime.datetime.fromtimestamp(BIN.stat().st_mtime).isoformat(timespec="seconds")}

    if "sandbox" in wanted:
        load = Load()
        results["figures"]["sandbox"] = sandbox(args.quick)
        results["figures"]["sandbox"]["load"] = load.finish()

    lsp_figures = [x for x in wanted if x != "sandbox"]
    if lsp_figures:
        scratch = Scratch(keep=args.keep)
        model = ModelServer()
        try:
            config = write_config(scratch, model.port)
            launch = Launch(scratch, config=None if args.local else config, config_flag=supports_config_flag())
            ctx = figures.Context(scratch, launch, model, args.quick)
            print("· which backend answers: the loopback configuration, or the built-in local model?", flush=True)
            detect = figures.detect_backend(ctx)
            results["backend_detection"] = detect
            print(f"  → {ctx.backend} (config passed with {'--config and ' if launch.config_flag else ''}$CORDON_CONFIG; loopback saw {detect['loopback_requests']} requests)", flush=True)
            runners = {
                "overhead": figures.overhead,
                "burst": figures.burst,
                "explain": figures.explain_stream,
                "cancel": figures.cancellation,
                "cold": figures.cold_start,
                "memory": figures.memory,
                "isolation": figures.isolation,
                "local": figures.local_model,
                "lists": figures.local_lists,
                "peers": lambda ctx: peers.peers(ctx, lsp_ai=peers.install_lsp_ai(), llm_ls=args.llm_ls),
            }
            for name in lsp_figures:
                print(f"· {name}", flush=True)
                load = Load()
                t = time.monotonic()
                try:
                    fig = runners[name](ctx)
                except Exception:  # a harness or server failure: recorded, the suite goes on
                    fig = {"harness_error": traceback.format_exc()}
                    print(fig["harness_error"], file=sys.stderr)
                fig["load"] = load.finish()
                fig["seconds"] = round(time.monotonic() - t, 1)
                results["figures"][name] = fig
            results["scratch"] = str(scratch.root) if args.keep else None
        finally:
            model.close()
            scratch.cleanup()

    results["load"] = total_load.finish()
    results["seconds"] = round((datetime.datetime.now(datetime.timezone.utc) - started).total_seconds(), 1)
    rows = table(results)
    results["table"] = [dict(zip(("figure", "measured", "bar", "verdict"), r)) for r in rows]
    results["headline"] = headline(results)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2, default=str)
    out.write_text(text)
    history = out.parent / "history"
    history.mkdir(exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    (history / f"{stamp}-{results['git']['commit'][:10]}{'-quick' if args.quick else ''}.json").write_text(text)

    print_table(rows)
    if "peers" in results["figures"]:
        peers.print_peers(results["figures"]["peers"])
    ld = results["load"]
    print()
    print(
        f"Machine: {results['machine']['cpus']} CPUs ({results['machine']['cpu_model']}); load average "
        f"{ld['loadavg_start'][0]} → {ld['loadavg_end'][0]}, CPU busy {ld['cpu_busy_fraction']:.0%} during the run; "
        f"backend: {results.get('backend_detection', {}).get('backend', '—')}; {results['seconds']:.0f} s."
    )
    print(f"JSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
