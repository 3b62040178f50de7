"""Real editors on a real (tmux) screen: keystrokes at human speed, the
screen read back with `tmux capture-pane`.

`Screen`         one tmux session running one editor; `type`, `keys`,
                 `text` (the screen now), `wait_for` (poll the screen).
`LoopbackModel`  an OpenAI-compatible chat server on 127.0.0.1 that answers
                 every request with a fixed text and records what arrived.
`demo_copy`      a copy of examples/demo (the workspace people try).
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lsp"))

from support import BINARY, REPO, serve_http, server_env  # noqa: E402

DEMO = REPO / "examples" / "demo"
EXAMPLES = REPO / "examples" / "editors"
VENV_BIN = REPO / "target" / "lsp-tests-venv" / "bin"

# Between two keys a person types. Not a speed check.
KEY_PAUSE_S = 0.03
# How long the screen may take to reach an expected state. Never a
# performance assertion: a state that never comes fails after this.
SCREEN_WAIT_S = 10.0


def need(program: str, install: str) -> str:
    """The path of `program` (not the test virtualenv's), or a failure
    saying how to install it."""
    import pytest

    search = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                             if p and Path(p).resolve() != VENV_BIN.resolve())
    path = shutil.which(program, path=search)
    if path is None:
        pytest.fail(f"`{program}` is not installed: {install} (scripts/test-editors does)")
    return path


def demo_copy(tmp_path: Path) -> Path:
    """examples/demo copied to `tmp_path/demo` (no .git above it)."""
    root = tmp_path / "demo"
    shutil.copytree(DEMO, root, ignore=shutil.ignore_patterns("target"))
    return root


def editor_env(tmp_path: Path, config: Path | None) -> dict[str, str]:
    """The editor's environment: `cordon` (the binary under test) first on
    PATH, the server's test environment (no credentials, a scratch cache),
    `config` as the Cordon configuration, a home of its own."""
    env = server_env()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    link = bin_dir / "cordon"
    if not link.exists():
        link.symlink_to(BINARY)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    home = tmp_path / "home"
    for sub in ("", "cache", "state", "data"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_STATE_HOME=str(home / "state"),
        TERM="tmux-256color",
        LANG="C.UTF-8",
        LC_ALL="C.UTF-8",
    )
    if config is not None:
        env["CORDON_CONFIG"] = str(config)
    return env


def missing_key_config(tmp_path: Path) -> Path:
    """A `cordon.toml` routing every plugin to a remote backend whose key is
    not set."""
    config = tmp_path / "cordon.toml"
    config.write_text(
        "[backends.claude]\n"
        'provider = "anthropic"\nmodel = "claude-sonnet-4-5"\n'
        'api_key_env = "CORDON_SCREEN_TEST_NO_SUCH_KEY"\nmax_retries = 0\n'
        "[routes]\n"
        'default = "claude"\n'
    )
    return config


class Screen:
    """One editor in a detached tmux session, `width` x `height` cells."""

    def __init__(self, tmp_path: Path, argv: list[str], env: dict[str, str], cwd: Path,
                 width: int = 140, height: int = 45) -> None:
        self.tmux = need("tmux", "apt-get install -y tmux")
        self.socket = str(tmp_path / "tmux.sock")
        # The editor's environment exactly, whatever tmux's server keeps.
        script = tmp_path / "editor.sh"
        exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items() if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k))
        script.write_text(f"#!/bin/sh\n{exports}cd {shlex.quote(str(cwd))}\nexec {shlex.join(argv)}\n")
        script.chmod(0o755)
        self._tmux("-f", "/dev/null", "new-session", "-d", "-s", "editor",
                   "-x", str(width), "-y", str(height), str(script))
        self._tmux("set-option", "-t", "editor", "remain-on-exit", "on")

    def _tmux(self, *args: str) -> str:
        run = subprocess.run([self.tmux, "-S", self.socket, *args], capture_output=True, text=True, timeout=10)
        if run.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {run.stderr.strip()}")
        return run.stdout

    def text(self) -> str:
        """What the screen shows now."""
        return self._tmux("capture-pane", "-p", "-t", "editor")

    def type(self, text: str, pause: float = KEY_PAUSE_S) -> None:
        """Type `text` one character at a time, as a person does."""
        for ch in text:
            if ch == "\n":
                self._tmux("send-keys", "-t", "editor", "Enter")
            else:
                # tmux reads an argument ending in `;` as a command separator.
                self._tmux("send-keys", "-t", "editor", "-l", "\\;" if ch == ";" else ch)
            time.sleep(pause)

    def keys(self, *keys: str, pause: float = 0.15) -> None:
        """Press tmux-named keys (`Escape`, `C-n`, `Enter`...) one by one."""
        for key in keys:
            self._tmux("send-keys", "-t", "editor", key)
            time.sleep(pause)

    def wait_for(self, wanted: str | Callable[[str], bool], what: str | None = None,
                 within: float = SCREEN_WAIT_S) -> str:
        """Poll the screen until it shows `wanted` (a substring, or a
        predicate on the screen's text); the screen then."""
        check = wanted if callable(wanted) else (lambda screen: wanted in screen)
        deadline = time.monotonic() + within
        screen = ""
        while time.monotonic() < deadline:
            screen = self.text()
            if check(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"the screen never showed {what or repr(wanted)} within {within:.0f} s; it shows:\n{screen}")

    def close(self) -> None:
        subprocess.run([self.tmux, "-S", self.socket, "kill-server"], capture_output=True, timeout=10)


def wait_until(check: Callable[[], object], what: str, within: float = SCREEN_WAIT_S):
    """Poll `check` until it returns something true; that value."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {within:.0f} s")


class LoopbackModel:
    """`POST /v1/chat/completions` answered with `answer`, streamed (SSE)
    when the request asks for it, `pause` seconds between words; or, with
    `fail`, an HTTP 500. Records each request body."""

    def __init__(self, answer: str, pause: float = 0.0, fail: bool = False) -> None:
        self.requests: list[dict] = []
        self.pause = pause
        self.fail = fail
        model = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                model.requests.append({"path": self.path, **body})
                if model.fail:
                    data = b'{"error": {"message": "the loopback model is down", "type": "server_error"}}'
                    self.send_response(500)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                elif body.get("stream"):
                    self.stream(model.answer_for(body))
                else:
                    data = json.dumps({
                        "id": "l", "object": "chat.completion", "model": "loopback",
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": model.answer_for(body)}}],
                        "usage": {"prompt_tokens": 9, "completion_tokens": 9, "total_tokens": 18},
                    }).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

            def stream(self, answer: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    words = answer.split(" ")
                    for i, word in enumerate(words):
                        piece = word if i == len(words) - 1 else word + " "
                        self.event({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
                        time.sleep(model.pause)
                    self.event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                                "usage": {"prompt_tokens": 9, "completion_tokens": 9, "total_tokens": 18}})
                    self.chunk(b"data: [DONE]\n\n")
                    self.chunk(b"")
                except OSError:
                    pass
                self.close_connection = True

            def event(self, fields: dict) -> None:
                chunk = {"id": "s", "object": "chat.completion.chunk", "model": "loopback", **fields}
                self.chunk(f"data: {json.dumps(chunk)}\n\n".encode())

            def chunk(self, data: bytes) -> None:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def log_message(self, *args) -> None:
                pass

        self.answer = answer
        self.server, self.url = serve_http(Handler)

    def answer_for(self, body: dict) -> str:
        return self.answer

    def config(self, tmp_path: Path) -> Path:
        """A Cordon configuration sending explain and refactor here, and
        completion to the offline `local` model."""
        path = tmp_path / "cordon.toml"
        path.write_text(
            "[backends.loopback]\n"
            'provider = "openai"\nmodel = "loopback"\n'
            f'base_url = "{self.url}"\nmax_retries = 0\n'
            "[routes]\n"
            'default = "loopback"\ncompletion = "local"\n'
        )
        return path

    def close(self) -> None:
        self.server.shutdown()
