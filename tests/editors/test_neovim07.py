"""Debian's Neovim 0.7 (the `neovim` package) with the shipped
examples/editors/neovim/cordon-0.7.lua: it loads without a Lua error,
attaches cordon at the project root (no .git: Cargo.toml), and shows an
explanation in a split (it advertises and handles window/showDocument)."""

from __future__ import annotations

import json
import subprocess

from screen import EXAMPLES, REPO, LoopbackModel, demo_copy, editor_env, need

CHECK = REPO / "tests" / "editors" / "nvim" / "check-0.7.lua"
EXPLANATION = "`in_stock` collects the names of the items that have at least one unit."


def test_the_neovim_07_setup_loads_attaches_and_shows_an_explanation(tmp_path):
    nvim = need("nvim", "apt-get install -y neovim")
    model = LoopbackModel(EXPLANATION)
    try:
        root = demo_copy(tmp_path)
        env = editor_env(tmp_path, model.config(tmp_path))
        out = tmp_path / "result.json"
        env.update(CORDON_OUT=str(out), CORDON_LINE="62")
        run = subprocess.run(
            [nvim, "--headless", "-n", "-i", "NONE", "-u", str(EXAMPLES / "neovim" / "cordon-0.7.lua"),
             "src/lib.rs", "-c", f"luafile {CHECK}"],
            env=env, cwd=root, stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
        )
    finally:
        model.close()
    stderr = run.stderr.decode(errors="replace")
    assert "Error" not in stderr, stderr
    assert out.exists(), f"nvim wrote no result (exit {run.returncode}): {stderr}"
    result = json.loads(out.read_text())
    assert "error" not in result, result["error"]
    assert result["root"] == str(root), result
    assert result["omnifunc"] == "v:lua.vim.lsp.omnifunc", result
    assert "noselect" in result["completeopt"].split(","), result
    assert result["shown"], result
    assert result["explanation_file"].endswith(".md"), result
    assert EXPLANATION in result["explanation"], result
