"""One real editor in CI: headless Neovim attaches `cordon lsp` to a buffer
of the fixture workspace and asks for completions (tests/editors/nvim/).

Neovim is required, not optional: without `nvim` on PATH this test fails
(CI installs the Debian package `neovim`).
"""

import json
import shutil
import subprocess

import pytest

from support import BINARY, REPO, SHOP, server_env

INIT = REPO / "tests" / "editors" / "nvim" / "init.lua"
RUN_WITHIN_S = 60


def test_neovim_attaches_cordon_and_gets_completions(tmp_path):
    nvim = shutil.which("nvim")
    if nvim is None:
        pytest.fail(
            "nvim is not installed: this end-to-end test needs a real editor. "
            "Install it with `apt-get install -y neovim` (CI does)."
        )
    out = tmp_path / "result.json"
    env = server_env()
    for sub in ("cache", "state", "data", "config"):
        (tmp_path / sub).mkdir()
    env.update(
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        CORDON_BIN=str(BINARY),
        CORDON_WORKSPACE=str(SHOP),
        CORDON_FILE=str(SHOP / "src" / "cart.rs"),
        CORDON_LINE="57",  # `        self.line_`
        CORDON_COL="999",  # end of the line
        CORDON_OUT=str(out),
    )

    run = subprocess.run(
        [nvim, "--headless", "-n", "-i", "NONE", "--noplugin", "-u", str(INIT)],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=RUN_WITHIN_S,
    )

    assert out.exists(), (
        f"nvim wrote no result (exit {run.returncode})\n"
        f"stdout: {run.stdout.decode(errors='replace')}\n"
        f"stderr: {run.stderr.decode(errors='replace')}"
    )
    result = json.loads(out.read_text())
    assert "error" not in result, result["error"]
    completion = result["completion"]
    assert completion["isIncomplete"] is True
    first = completion["items"][0]
    assert first["label"].startswith("line_items"), first
    assert first["textEdit"]["range"]["start"] == {"line": 56, "character": 18}
    # Neovim applied the edit where the cursor was.
    assert result["line_after"].startswith("        self.line_items"), result["line_after"]
    assert result["inline"]["items"][0]["insertText"].startswith("items"), result
    assert run.returncode == 0, run.stderr.decode(errors="replace")
