"""`cordon new` as a plugin author uses it: for each language and kind, the
project it writes passes its own test, builds with its one documented
command (pinned tools, installed by scripts/install-plugin-toolchains),
passes `cordon plugins check` and answers through `cordon plugins test`
against a canned model.

Python components take about half a minute to build and as long to
compile, so only the refactor kind is built for Python; every kind's
unit test runs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORDON = REPO / "target" / "release" / "cordon"
TOOLS = REPO / "target" / "plugin-toolchains"

# A document to run each kind at: (text, position, arguments, what the
# output must show). The canned model answers `--reply`.
SAMPLE = "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n"
RUNS = {
    "completion": [("2:5", ["--reply", "a.wrapping_add(b)"], ["a.wrapping_add(b)", "fim (completion)"])],
    "refactor": [
        ("2:5-2:10", [], ["rewrite-selection", "--action ID"]),
        (
            "2:5-2:10",
            ["--action", "rewrite-selection", "--instruction", "Swap them", "--reply", "```rust\nb + a\n```"],
            ["@@ 2:5-2:10 @@", "b + a", "chat (refactor)", "Swap them"],
        ),
    ],
    "explain": [("2:7", ["--reply", "It adds the two numbers."], ["It adds the two numbers.", "chat (explain)"])],
}


def run(*args: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, f"{result.args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("author")
    env = {k: v for k, v in os.environ.items() if k not in ("RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_TARGET_DIR", "CORDON_CONFIG", "CORDON_LOG")}
    env.update(
        XDG_DATA_HOME=str(home / "data"),  # where `cordon new` unpacks the SDK
        XDG_CONFIG_HOME=str(home / "config"),  # no user policy or configuration
        XDG_CACHE_HOME=str(home / "cache"),
        CORDON_CACHE_DIR=str(REPO / "target" / "templates-compiled"),
    )
    return env


def new(tmp_path: Path, env: dict[str, str], lang: str, kind: str) -> Path:
    name = f"demo-{lang}-{kind}"
    project = tmp_path / name
    out = ok(run(CORDON, "new", name, "--kind", kind, "--lang", lang, "--dir", project, cwd=tmp_path, env=env))
    assert f"{lang} {kind} plugin `{name}`" in out
    (project / "sample.rs").write_text(SAMPLE)
    return project


def check_and_try(project: Path, wasm: Path, kind: str, env: dict[str, str]) -> None:
    checked = ok(run(CORDON, "plugins", "check", wasm, cwd=project, env=env))
    assert "ok: it loads in Cordon" in checked, checked
    assert f"provides: {kind} (cordon:plugin@0.2.0)" in checked, checked
    # It says what it asks for; under the defaults a new plugin has `log` only.
    assert "requests model (NOT GRANTED" in checked, checked
    for position, args, expected in RUNS[kind]:
        tried = run(CORDON, "plugins", "test", wasm, f"sample.rs:{position}", *args, cwd=project, env=env)
        out = ok(tried)
        assert "granted model, workspace.read, log for this test" in out, out
        for text in expected:
            assert text in out, f"{text!r} not in:\n{out}\n{tried.stderr}"


@pytest.mark.parametrize("kind", ["completion", "refactor", "explain"])
def test_rust(tmp_path: Path, env: dict[str, str], kind: str) -> None:
    project = new(tmp_path, env, "rust", kind)
    # The SDK was unpacked with the WIT it is generated from.
    sdk = Path(env["XDG_DATA_HOME"]) / "cordon" / "sdk" / "cordon-plugin-sdk-0.2.0"
    assert (sdk / "wit" / "worlds.wit").read_text() == (REPO / "wit" / "0.2.0" / "worlds.wit").read_text()
    # The plugins' own target folders: the SDK's dependencies are built there already.
    native = dict(env, CARGO_TARGET_DIR=str(REPO / "plugins" / "target"))
    out = run("cargo", "test", "--release", "--quiet", cwd=project, env=native)
    assert out.returncode == 0 and "test result: ok" in out.stdout, out.stdout + out.stderr
    wasm_env = dict(env, CARGO_TARGET_DIR=str(REPO / "target" / "wasm-plugins"))
    ok(run("cargo", "build", "--release", "--quiet", "--target", "wasm32-wasip2", cwd=project, env=wasm_env))
    wasm = REPO / "target" / "wasm-plugins" / "wasm32-wasip2" / "release" / f"demo_rust_{kind}.wasm"
    check_and_try(project, wasm, kind, env)


@pytest.mark.parametrize("kind", ["completion", "refactor", "explain"])
def test_python(tmp_path: Path, env: dict[str, str], kind: str) -> None:
    project = new(tmp_path, env, "python", kind)
    out = run("python3", "-m", "unittest", cwd=project, env=env)
    assert out.returncode == 0 and "OK" in out.stderr, out.stdout + out.stderr
    if kind != "refactor":
        return
    tools = dict(env, PATH=f"{TOOLS / 'venv' / 'bin'}:{env['PATH']}")
    ok(run("./build.sh", cwd=project, env=tools))
    check_and_try(project, project / f"demo-python-{kind}.wasm", kind, env)


@pytest.mark.parametrize("kind", ["completion", "refactor", "explain"])
def test_js(tmp_path: Path, env: dict[str, str], kind: str) -> None:
    project = new(tmp_path, env, "js", kind)
    # The pinned packages, as `npm install` would put them (installed once
    # from the same package.json and lock by scripts/install-plugin-toolchains).
    (project / "node_modules").symlink_to(TOOLS / "js" / "node_modules")
    out = run("npm", "test", "--silent", cwd=project, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    ok(run("npm", "run", "build", "--silent", cwd=project, env=env))
    check_and_try(project, project / f"demo-js-{kind}.wasm", kind, env)


def test_a_project_is_never_written_over(tmp_path: Path, env: dict[str, str]) -> None:
    project = new(tmp_path, env, "rust", "explain")
    kept = (project / "src" / "lib.rs").read_text()
    again = run(CORDON, "new", project.name, "--kind", "refactor", "--lang", "js", "--dir", project, cwd=tmp_path, env=env)
    assert again.returncode == 2
    assert "exists and is not empty" in again.stderr
    assert (project / "src" / "lib.rs").read_text() == kept
    bad = run(CORDON, "new", "Todo_Issues", "--kind", "refactor", "--lang", "rust", cwd=tmp_path, env=env)
    assert bad.returncode == 2 and "is not a plugin name" in bad.stderr
