"""Emacs + Eglot (Debian's emacs-nox, elpa-eglot, elpa-rust-mode: Emacs
28.2 with Eglot 1.9 on Debian 12) on a tmux screen, with the shipped
examples/editors/emacs/cordon.el loaded from an init file as a person
does, typed at as a person types.

The buffer must hold exactly what was typed and picked; completion-at-point
inserts a multi-word item whole; code actions are listed and applied; an
explanation stays on screen in its own window; the mode line shows the
server's status.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from screen import EXAMPLES, LoopbackModel, Screen, demo_copy, editor_env, missing_key_config, need, wait_until

EXPLANATION = "`in_stock` collects the names of the items that have at least one unit."
INSTALL = "apt-get install -y emacs-nox elpa-eglot elpa-rust-mode"
# 1-based lines of examples/demo/src/lib.rs.
IN_STOCK_DOC = 61   # /// Names of the items that are in stock.
IN_STOCK_FN = 62    # pub fn in_stock(&self) -> Vec<String> {
BLANK = 64          # the empty line of its body


class Emacs:
    def __init__(self, tmp_path: Path, model: LoopbackModel | None, line: int, config: Path | None = None) -> None:
        emacs = need("emacs", INSTALL)
        self.root = demo_copy(tmp_path)
        self.file = self.root / "src" / "lib.rs"
        self.original = self.file.read_text().splitlines()
        env = editor_env(tmp_path, config or model.config(tmp_path))
        init_dir = Path(env["HOME"]) / ".emacs.d"
        init_dir.mkdir(parents=True, exist_ok=True)
        # Native compilation of the ELPA packages in a fresh home writes
        # warnings over the screen; a person's Emacs did that once, long ago.
        (init_dir / "early-init.el").write_text(
            "(setq native-comp-deferred-compilation nil\n"
            "      native-comp-async-report-warnings-errors nil)\n"
        )
        # What the set-up tells a person to put in their init file.
        example = EXAMPLES / "emacs" / "cordon.el"
        (init_dir / "init.el").write_text(
            f'(load "{example}")\n'
            "(add-hook 'rust-mode-hook #'eglot-ensure)\n"
            "(setq inhibit-startup-screen t make-backup-files nil)\n"
            # For the test to ask Emacs what it holds (emacsclient --eval).
            f'(setq server-socket-dir "{tmp_path / "emacs-server"}")\n'
            "(server-start)\n"
        )
        self.server_socket = tmp_path / "emacs-server" / "server"
        self.screen = Screen(tmp_path, [emacs, "-nw", f"+{line}", "src/lib.rs"], env, self.root,
                             width=120, height=40)
        self.screen.wait_for(lambda s: "(Rust" in s, "lib.rs in Rust mode")
        self.screen.wait_for(lambda s: "[eglot:demo" in s, "Eglot connected to cordon in project `demo`")

    def eval(self, expression: str) -> str:
        """What Emacs prints for `expression` (emacsclient --eval)."""
        run = subprocess.run(["emacsclient", "-s", str(self.server_socket), "--eval", expression],
                             capture_output=True, text=True, timeout=10)
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    def events(self) -> str:
        """Eglot's log of the LSP messages (for a failure's report)."""
        try:
            return self.eval('(with-current-buffer (seq-find (lambda (b) (string-match-p "EGLOT.*events" (buffer-name b))) '
                             '(buffer-list)) (buffer-substring-no-properties (max (point-min) (- (point-max) 6000)) (point-max)))')
        except Exception as err:  # noqa: BLE001 (a report, not a check)
            return f"(no events: {err})"

    def saved_lines(self) -> list[str]:
        """Save the buffer (C-x C-s) and read the file."""
        before = self.file.stat().st_mtime_ns
        self.screen.keys("C-x", "C-s")
        wait_until(lambda: self.file.stat().st_mtime_ns != before, "the buffer is saved")
        return self.file.read_text().splitlines()

    def command(self, name: str) -> None:
        """M-x NAME RET, typed."""
        self.screen.keys("M-x")
        self.screen.wait_for("M-x", "the M-x prompt")
        self.screen.type(name + "\n")

    def close(self) -> None:
        self.screen.close()


@pytest.fixture
def model(request):
    marker = request.node.get_closest_marker("model")
    model = LoopbackModel(EXPLANATION, **(marker.kwargs if marker else {}))
    yield model
    model.close()


@pytest.fixture
def emacs(tmp_path, model, request):
    editor = Emacs(tmp_path, model, getattr(request, "param", BLANK))
    yield editor
    editor.close()


def test_the_mode_line_shows_cordons_status(emacs):
    emacs.screen.wait_for("cordon:ready", "`cordon:ready` in the mode line (a cordon/status notification)")


def test_typing_code_inserts_exactly_what_was_typed(emacs):
    typed = [
        "let count = 0;",
        "for item in &self.items {",
        "if item.in_stock() {",
        "names.push(item.name.clone());",
        "}",
        "}",
    ]
    screen = emacs.screen
    screen.keys("C-e")
    screen.type("\n".join(typed))

    lines = emacs.saved_lines()
    body = lines[BLANK - 1:BLANK - 1 + len(typed)]
    assert [line.strip() for line in body] == typed, "\n".join(lines[BLANK - 3:BLANK + 8])
    assert lines[:BLANK - 1] == emacs.original[:BLANK - 1]
    assert lines[BLANK - 1 + len(typed):] == emacs.original[BLANK:]


def test_completion_at_point_inserts_a_multi_word_item_whole(emacs):
    """`for` then C-M-i (completion-at-point): the one item,
    `for item in &self.items`, is inserted whole."""
    screen = emacs.screen
    screen.keys("C-e")
    screen.type("for")
    screen.keys("C-M-i")
    screen.wait_for("for item in &self.items\n", "`for item in &self.items` completed in the buffer")

    lines = emacs.saved_lines()
    assert lines[BLANK - 1] == "        for item in &self.items", lines[BLANK - 1]
    assert lines[:BLANK - 1] == emacs.original[:BLANK - 1]
    assert lines[BLANK:] == emacs.original[BLANK:]


@pytest.mark.parametrize("emacs", [IN_STOCK_FN], indirect=True)
def test_code_actions_are_listed_and_one_is_applied(emacs, model):
    """M-x cordon-code-actions on `pub fn in_stock`: the actions are listed
    (TAB shows them); "Rewrite doc comment" replaces the doc comment."""
    screen = emacs.screen
    emacs.command("cordon-code-actions")
    screen.wait_for("Cordon action:", "the action prompt")
    screen.keys("Tab")
    listed = screen.wait_for("Explain this code (Cordon)", "the actions listed")
    assert "Rewrite doc comment" in listed, listed
    screen.type("Rewrite doc comment\n")
    screen.wait_for(EXPLANATION, "the new doc comment")

    lines = emacs.saved_lines()
    assert lines[IN_STOCK_DOC - 1] == f"    /// {EXPLANATION}", lines[IN_STOCK_DOC - 1]
    assert lines[:IN_STOCK_DOC - 1] == emacs.original[:IN_STOCK_DOC - 1]
    assert lines[IN_STOCK_DOC:] == emacs.original[IN_STOCK_DOC:]
    assert len(model.requests) == 1, model.requests


@pytest.mark.parametrize("emacs", [IN_STOCK_FN], indirect=True)
def test_eglots_own_code_actions_apply_a_refactor(emacs, model):
    """Plain M-x eglot-code-actions (Eglot 1.9 cannot resolve an action, so
    its refactors come as `cordon.refactor` commands): picking "Rewrite doc
    comment" applies it."""
    screen = emacs.screen
    emacs.command("eglot-code-actions")
    screen.wait_for("Pick an action", "Eglot's action prompt")
    screen.type("Rewrite doc comment\n")
    # Eglot asks before any edit a server sends (its default).
    screen.wait_for("Proceed?", "Eglot's confirmation of the server's edit")
    screen.type("y")
    screen.wait_for(EXPLANATION, "the new doc comment")

    lines = emacs.saved_lines()
    assert lines[IN_STOCK_DOC - 1] == f"    /// {EXPLANATION}", lines[IN_STOCK_DOC - 1]
    assert lines[IN_STOCK_DOC:] == emacs.original[IN_STOCK_DOC:]


@pytest.mark.parametrize("emacs", [IN_STOCK_FN], indirect=True)
def test_explain_shows_the_explanation_in_a_window_that_stays(emacs, model):
    """Explain opens the Markdown explanation in another window
    (window/showDocument, which cordon.el adds to Eglot), the code still
    in view and unchanged."""
    screen = emacs.screen
    emacs.command("cordon-code-actions")
    screen.wait_for("Cordon action:", "the action prompt")
    screen.type("Explain this code (Cordon)\n")
    shown = screen.wait_for(EXPLANATION, "the explanation")
    assert "pub fn in_stock" in shown, "the code left the screen:\n" + shown
    assert ".md " in shown, "the explanation is not in a Markdown file's window:\n" + shown
    # Still there after the next keystrokes (the echo area would clear).
    screen.keys("C-g", "C-n")
    shown = screen.wait_for(EXPLANATION, "the explanation, after more keys")
    try:
        screen.wait_for("cordon:ready", "`cordon:ready` once the explanation ended")
    except AssertionError as err:
        raise AssertionError(f"{err}\nEglot's events:\n{emacs.events()}") from None
    assert emacs.file.read_text().splitlines() == emacs.original
    assert "-UU-:----" in shown or "--:---" in shown, "the code buffer was modified:\n" + shown


@pytest.mark.model(fail=True)
@pytest.mark.parametrize("emacs", [IN_STOCK_FN], indirect=True)
def test_a_failed_explanation_is_one_sentence_and_the_status_says_failed(emacs, model):
    """The model answers HTTP 500: the echo area shows Cordon's sentence,
    not a `jsonrpc-error` structure, and the mode line `cordon:failed`."""
    screen = emacs.screen
    emacs.command("cordon-code-actions")
    screen.wait_for("Cordon action:", "the action prompt")
    screen.type("Explain this code (Cordon)\n")
    shown = screen.wait_for("cordon:failed", "`cordon:failed` in the mode line")
    shown = screen.wait_for("Server reports (type=1): Cordon", "Cordon's message in the echo area")
    assert "jsonrpc" not in shown and "-32803" not in shown and ":code" not in shown, shown
    assert model.requests, "the model was never asked"
    assert emacs.file.read_text().splitlines() == emacs.original


def test_a_backend_without_its_key_says_unavailable_and_completion_goes_on(tmp_path):
    """Completion routed to a remote backend whose key is missing: the mode
    line says `unavailable` and the offline model still completes."""
    config = missing_key_config(tmp_path)
    emacs = Emacs(tmp_path, None, BLANK, config=config)
    try:
        screen = emacs.screen
        screen.keys("C-e")
        screen.type("for")
        screen.keys("C-M-i")
        screen.wait_for("for item in &self.items\n", "the offline model's `for item in &self.items` completed")
        screen.wait_for("cordon:unavailable", "`cordon:unavailable` in the mode line")
        assert emacs.saved_lines()[BLANK - 1] == "        for item in &self.items"
    finally:
        emacs.close()
