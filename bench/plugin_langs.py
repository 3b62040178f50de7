#!/usr/bin/env python3
"""What a plugin costs by the language it is written in: the same refactor
plugin (`cordon new … --kind refactor`) in Rust, Python and JavaScript,
each built with its template's pinned tools.

For each: build time (first build, then a rebuild after touching the
source), component size, first compile in Cordon (`cordon plugins check`
with an empty compiled cache: compile, link, `describe`), and the time per
call (`cordon plugins test --repeat`: a fresh instance, the call, its
checks, against a canned model), p50 and p99, for listing the actions
(no model) and applying one (one chat request). Ratios are to Rust, from
the same run.

    scripts/install-plugin-toolchains
    cargo build --release -p cordon      # or any build of target/release/cordon
    python3 bench/plugin_langs.py [--calls 300]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORDON = REPO / "target" / "release" / "cordon"
TOOLS = REPO / "target" / "plugin-toolchains"
SAMPLE = "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n"
REPLY = "```rust\nb + a\n```"


def run(*args, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{args} failed:\n{result.stdout}\n{result.stderr}")
    return result


def timed(*args, cwd: Path, env: dict[str, str]) -> float:
    started = time.monotonic()
    run(*args, cwd=cwd, env=env)
    return time.monotonic() - started


def measure(lang: str, work: Path, env: dict[str, str], calls: int) -> dict:
    name = f"bench-{lang}"
    project = work / name
    run(CORDON, "new", name, "--kind", "refactor", "--lang", lang, "--dir", project, cwd=work, env=env)
    (project / "sample.rs").write_text(SAMPLE)
    if lang == "rust":
        build = ["cargo", "build", "--release", "--quiet", "--target", "wasm32-wasip2"]
        source = project / "src" / "lib.rs"
        wasm = project / "target" / "wasm32-wasip2" / "release" / "bench_rust.wasm"
    elif lang == "python":
        build = ["./build.sh"]
        source = project / "src" / "logic.py"
        wasm = project / f"{name}.wasm"
    else:
        (project / "node_modules").symlink_to(TOOLS / "js" / "node_modules")
        build = ["npm", "run", "build", "--silent"]
        source = project / "logic.js"
        wasm = project / f"{name}.wasm"
    first = timed(*build, cwd=project, env=env)
    source.write_text(source.read_text() + "\n")
    again = timed(*build, cwd=project, env=env)
    cache = work / f"compiled-{lang}"
    checked = json.loads(run(CORDON, "plugins", "check", "--json", wasm, cwd=project,
                             env=dict(env, CORDON_CACHE_DIR=str(cache))).stdout)
    assert checked["problems"] == [], checked
    timing = {}
    for what, extra in {
        "actions": [],
        "apply": ["--action", "rewrite-selection", "--instruction", "Swap them", "--reply", REPLY],
    }.items():
        out = json.loads(run(CORDON, "plugins", "test", wasm, "sample.rs:2:5-2:10", "--json",
                             "--repeat", str(calls), *extra, cwd=project,
                             env=dict(env, CORDON_CACHE_DIR=str(cache))).stdout)
        timing[what] = out["results"][0]["timing"]
    return {
        "lang": lang,
        "build_s": first,
        "rebuild_s": again,
        "bytes": wasm.stat().st_size,
        "first_compile_ms": checked["loaded"]["load_ms"],
        "timing": timing,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in ("CARGO_TARGET_DIR", "RUSTFLAGS", "CORDON_CONFIG", "CORDON_LOG")}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env.update(XDG_DATA_HOME=str(work / "data"), XDG_CONFIG_HOME=str(work / "config"),
                   PATH=f"{TOOLS / 'venv' / 'bin'}:{env['PATH']}")
        rows = [measure(lang, work, env, args.calls) for lang in ("rust", "python", "js")]
    rust = rows[0]
    print("| language | build (first / rebuild) | component | first compile | list actions p50 / p99 | apply (1 chat) p50 / p99 | per call vs Rust (p50: list / apply) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        t = row["timing"]
        ratio = " / ".join(f"{t[w]['p50_us'] / rust['timing'][w]['p50_us']:.1f}×" for w in ("actions", "apply"))
        print(f"| {row['lang']} | {row['build_s']:.1f} s / {row['rebuild_s']:.1f} s | {row['bytes'] / 1e6:.2f} MB "
              f"| {row['first_compile_ms'] / 1000:.1f} s | {t['actions']['p50_us']} / {t['actions']['p99_us']} µs "
              f"| {t['apply']['p50_us']} / {t['apply']['p99_us']} µs | {ratio} |")


if __name__ == "__main__":
    main()
