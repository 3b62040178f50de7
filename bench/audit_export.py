#!/usr/bin/env python3
"""Does audit export slow a completion? Completion round trips through
`cordon lsp` (an edit, then `textDocument/completion`, served by a loopback
OpenAI-compatible model), with the organisation's audit log written in every
case and the export to an OTLP collector off, on (a loopback collector that
decodes every request), and on with the collector down (the exporter
retrying in the background).

    target/lsp-tests-venv/bin/python bench/audit_export.py [--n 300]

(the virtualenv of scripts/test-lsp: the collector needs opentelemetry-proto).
A benchmark, not a test: it prints p50 / p90 / p99 per case and writes
target/bench/audit_export.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "audit"))

from support import Lsp, Receiver, Setup  # noqa: E402


def run(case: str, n: int, warmup: int = 30) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix=f"cordon-bench-export-{case}-"))
    receiver = Receiver().start() if case != "off" else None
    endpoint = receiver.url if receiver else None
    if case == "collector down":
        receiver.stop()
    setup = Setup(tmp, endpoint)
    lsp = Lsp(setup)
    try:
        for _ in range(warmup):
            lsp.complete()
        samples = []
        for _ in range(n):
            t = time.perf_counter()
            answer = lsp.complete()
            samples.append((time.perf_counter() - t) * 1000)
            assert "result" in answer, answer
        shipped = None
        if case == "on":
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(set(receiver.hashes())) < len(setup.records()):
                time.sleep(0.1)
            shipped = f"{len(set(receiver.hashes()))}/{len(setup.records())}"
    finally:
        lsp.close()
        setup.close()
        if receiver:
            receiver.stop()
    q = statistics.quantiles(samples, n=100)
    return {"case": case, "n": n, "p50_ms": round(statistics.median(samples), 3),
            "p90_ms": round(q[89], 3), "p99_ms": round(q[98], 3), "shipped": shipped}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    results = []
    # Twice each, interleaved, so that drift of the machine hits every case.
    for _ in range(2):
        for case in ("off", "on", "collector down"):
            r = run(case, args.n)
            results.append(r)
            print(f"{case:15} p50 {r['p50_ms']:7.3f} ms  p90 {r['p90_ms']:7.3f}  p99 {r['p99_ms']:7.3f}"
                  + (f"  shipped {r['shipped']}" if r["shipped"] else ""), flush=True)
    out = REPO / "target" / "bench" / "audit_export.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
