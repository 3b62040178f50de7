"""Shared pieces of the benchmark harness: paths, the server's environment,
the loopback model server, documents cut from real code, statistics and the
machine's load."""

from __future__ import annotations

import glob
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lsp import Doc, Server

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
BIN = Path(os.environ.get("CORDON_BIN", REPO / "target" / "release" / "cordon"))
TEST_PLUGINS = REPO / "tests" / "plugins"
HOSTILE = TEST_PLUGINS / "target" / "wasm32-wasip2" / "release" / "cordon_test_hostile.wasm"
SHOP = REPO / "tests" / "fixtures" / "shop"
OUT = REPO / "target" / "bench"


# -- statistics ------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (same rule as host/benches/sandbox.rs)."""
    if not values:
        return None
    s = sorted(values)
    return s[round((len(s) - 1) * q)]


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50": pct(values, 0.50),
        "p90": pct(values, 0.90),
        "p99": pct(values, 0.99),
        "min": min(values) if values else None,
        "max": max(values) if values else None,
    }


def ms(ns: float) -> float:
    return ns / 1e6


# -- machine and load ------------------------------------------------------


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields[:8]), idle


def _busy_processes() -> list[str]:
    """Names of other processes that look like builds or benchmarks."""
    names = []
    for stat in glob.glob("/proc/[0-9]*/comm"):
        try:
            name = Path(stat).read_text().strip()
        except OSError:
            continue
        if name in ("rustc", "cargo", "cc", "ld", "lld", "cc1", "cordon", "python3", "pytest", "nvim"):
            names.append(name)
    return names


class Load:
    """The machine's load over a span: load averages at both ends and the
    share of CPU time that was busy (all processes, ours included)."""

    def __init__(self) -> None:
        self.load_start = os.getloadavg()
        self.cpu_start = _cpu_times()
        self.procs_start = _busy_processes()

    def finish(self) -> dict:
        total0, idle0 = self.cpu_start
        total1, idle1 = _cpu_times()
        busy = 1.0 - (idle1 - idle0) / max(1, total1 - total0)
        counts: dict[str, int] = {}
        for name in self.procs_start:
            counts[name] = counts.get(name, 0) + 1
        return {
            "loadavg_start": [round(x, 2) for x in self.load_start],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
            "cpu_busy_fraction": round(busy, 3),
            "processes_at_start": counts,
        }


def machine() -> dict:
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True, cwd=REPO).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "mem_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": os.uname().release,
        "python": sys.version.split()[0],
        "rustc": rustc,
    }


def git_state() -> dict:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=REPO).stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "subject": git("log", "-1", "--format=%s"),
        "dirty_files": [l[3:] for l in git("status", "--porcelain").splitlines() if l[3:] and not l[3:].startswith("bench/")],
    }


# -- scratch space and the server's environment ----------------------------


class Scratch:
    """A temporary tree for workspaces, caches and logs, outside the repo
    (the local model skips `target/` folders and reads `.gitignore`)."""

    def __init__(self, keep: bool = False) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="cordon-bench-"))
        self.keep = keep
        for sub in ("cache", "data", "config", "xdg-cache", "logs"):
            (self.root / sub).mkdir()
        self._n = 0

    def path(self, name: str) -> Path:
        return self.root / name

    def log(self, name: str) -> Path:
        self._n += 1
        return self.root / "logs" / f"{self._n:03d}-{name}.stderr"

    def fresh_dir(self, name: str) -> Path:
        self._n += 1
        p = self.root / f"{name}-{self._n}"
        p.mkdir()
        return p

    def cleanup(self) -> None:
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)


def base_env(scratch: Scratch, cache_dir: Path | None = None, log: str = "warn") -> dict[str, str]:
    """No credentials, no user config or plugins, compiled plugins cached in
    the scratch tree: the server sees only what the harness gives it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CORDON_", "ANTHROPIC_", "OPENAI_", "AWS_", "RUST_LOG"))
    }
    env.update(
        CORDON_CACHE_DIR=str(cache_dir or scratch.path("cache")),
        XDG_DATA_HOME=str(scratch.path("data")),
        XDG_CONFIG_HOME=str(scratch.path("config")),
        XDG_CACHE_HOME=str(scratch.path("xdg-cache")),
        CORDON_LOG=log,
    )
    return env


def supports_config_flag() -> bool:
    out = subprocess.run([str(BIN), "lsp", "--help"], capture_output=True, text=True)
    return "--config" in out.stdout


def write_config(scratch: Scratch, port: int) -> Path:
    path = scratch.path("cordon.toml")
    path.write_text(
        f"""# Written by bench/run.py: every model call goes to the loopback server.
[backends.bench]
provider = "openai"
model = "bench-model"
base_url = "http://127.0.0.1:{port}"
timeout_ms = 5000
fim = "completions"

[routes]
default = "bench"
"""
    )
    return path


@dataclass
class Launch:
    """How to start `cordon lsp`."""

    scratch: Scratch
    config: Path | None = None  # loopback backend configuration
    config_flag: bool = False  # pass it as --config (else only $CORDON_CONFIG)

    def start(
        self,
        workspace: Path,
        name: str,
        plugin_dirs: tuple[Path, ...] = (),
        cache_dir: Path | None = None,
        use_config: bool = True,
        log: str = "warn",
        init_options: dict | None = None,
        initialize: bool = True,
    ) -> Server:
        argv = [str(BIN), "lsp"]
        env = base_env(self.scratch, cache_dir, log)
        if use_config and self.config is not None:
            env["CORDON_CONFIG"] = str(self.config)
            if self.config_flag:
                argv += ["--config", str(self.config)]
        for d in plugin_dirs:
            argv += ["--plugin-dir", str(d)]
        server = Server(argv, env, workspace, self.scratch.log(name))
        if initialize:
            server.initialize(workspace, init_options)
        return server


def copy_workspace(scratch: Scratch, source: Path, name: str) -> Path:
    dest = scratch.fresh_dir(name)
    shutil.copytree(source, dest, dirs_exist_ok=True)
    return dest


# -- the loopback model server ---------------------------------------------


class ModelServer:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(BENCH / "model_server.py"), "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"model server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        self.conn.request(method, path, body=data, headers=headers)
        return json.loads(self.conn.getresponse().read())

    def set_latency(self, ms_: float) -> None:
        self._call("POST", "/_bench/latency", {"ms": ms_})

    def watch_drops(self, on: bool) -> None:
        self._call("POST", "/_bench/watch_drops", {"on": on})

    def arrived(self) -> int:
        """How many model requests have arrived (answered or not)."""
        return len(self._call("GET", "/_bench/arrived")["arrived"])

    def set_stream(self, pieces: int, gap_ms: float) -> None:
        self._call("POST", "/_bench/stream", {"pieces": pieces, "gap_ms": gap_ms})

    def count(self) -> int:
        return self._call("GET", "/_bench/log?since=999999999")["count"]

    def records(self, since: int) -> list[dict]:
        return self._call("GET", f"/_bench/log?since={since}")["records"]

    def own_round_trip_ns(self, n: int, prompt: str) -> list[int]:
        """The model's own round trip seen by a Python client on a kept-alive
        connection: what Cordon cannot do faster than."""
        out = []
        body = {"model": "bench-model", "prompt": prompt, "suffix": "\n}\n", "max_tokens": 64, "stop": ["\n"]}
        for _ in range(n):
            t = time.monotonic_ns()
            self._call("POST", "/v1/completions", body)
            out.append(time.monotonic_ns() - t)
        return out

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# -- real code ------------------------------------------------------------


def registry_crate(name: str) -> Path | None:
    """The newest `name-<version>` source folder in the local cargo registry."""
    found = []
    for d in glob.glob(os.path.expanduser(f"~/.cargo/registry/src/*/{name}-[0-9]*")):
        m = re.search(rf"/{re.escape(name)}-(\d+)\.(\d+)\.(\d+)$", d)
        if m:
            found.append((tuple(int(x) for x in m.groups()), Path(d)))
    return max(found)[1] if found else None


def rust_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.rs") if p.is_file())


def corpus_text() -> tuple[str, str]:
    """Real Rust code to build documents from: tokio's `src` (else this
    repository's `host/src`), files concatenated in path order."""
    tokio = registry_crate("tokio")
    root = tokio / "src" if tokio else REPO / "host" / "src"
    parts = []
    for p in rust_files(root):
        try:
            parts.append(p.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            continue
    return "\n".join(parts), str(root)


_GOOD_LINE = re.compile(r"^( {8,16})\S.*;\s*$")


def make_document(code: str, size: int) -> tuple[str, int, str]:
    """A document of about `size` bytes of real code (repeated as needed,
    cut at a line end) with a new line `let bench = ` inside a function body
    near the middle; returns the text, the cursor (after `let bench = `)
    and the indentation."""
    text = code
    while len(text.encode("utf-8")) < size:
        text += "\n" + code
    # Start at a file boundary near the first `fn` so a 1 KB document has code.
    start = text.find("\n    pub fn ")
    start = text.rfind("\n\n", 0, start) + 1 if start > 0 else 0
    text = text[start:]
    while len(text.encode("utf-8")) < size:
        text += "\n" + code
    cut = text.encode("utf-8")[:size].decode("utf-8", "ignore")
    cut = cut[: cut.rfind("\n") + 1]
    lines = cut.split("\n")
    mid = len(lines) // 2
    best = None
    for dist in range(len(lines)):
        for i in (mid - dist, mid + dist):
            if 0 <= i < len(lines) and _GOOD_LINE.match(lines[i]):
                best = i
                break
        if best is not None:
            break
    if best is None:
        best = mid
    m = re.match(r"^(\s*)", lines[best])
    indent = m.group(1) if m else "    "
    before = "\n".join(lines[: best + 1]) + "\n" + indent + "let bench = "
    after = "\n" + "\n".join(lines[best + 1 :])
    return before + after, len(before), indent


class Typist:
    """What the harness types: identifier characters after `let bench = `,
    and every 48 characters a new `let bench = ` line (one keystroke, as an
    editor's Enter with auto-indent plus a snippet would be)."""

    LETTERS = "abcdefghijklmnopqrstuvwxyz"

    def __init__(self, indent: str) -> None:
        self.indent = indent
        self.n = 0

    def next(self) -> str:
        self.n += 1
        if self.n % 48 == 0:
            return ";\n" + self.indent + "let bench = "
        return self.LETTERS[self.n % 26]


def open_doc(server: Server, workspace: Path, name: str, text: str, cursor: int) -> Doc:
    return Doc.open(server, workspace / "src" / name, text, cursor)
