"""`python3 -m unittest`: the plugin's logic with a fake model, no Wasm
toolchain needed."""

import sys
import unittest
from pathlib import Path
from types import SimpleNamespace as NS

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

import logic  # noqa: E402


def pos(line, character):
    return NS(line=line, character=character)


def context(selected=None, selection=None):
    return NS(
        language_id="python", path="src/shop.py", cursor=pos(1, 0),
        prefix="def total(items):\n", suffix="    return sum(items)\n",
        prefix_truncated=False, suffix_truncated=False,
        selection=selection, selected_text=selected, diagnostics=[],
    )


class FakeModel:
    def __init__(self, reply):
        self.reply = reply
        self.requests = []

    def chat(self, purpose, system, prompt, max_tokens, temperature=None, stop=()):
        self.requests.append((purpose, prompt))
        return self.reply


class RefactorTest(unittest.TestCase):
    def test_describe(self):
        self.assertEqual(logic.describe()["name"], "{{name}}")

    def test_no_action_without_selection(self):
        self.assertEqual(logic.actions(context()), [])

    def test_selection_rewritten_from_the_code_block(self):
        ctx = context("x = 1 + 1\n", NS(start=pos(3, 0), end=pos(4, 0)))
        [action] = logic.actions(ctx)
        model = FakeModel("Here you are:\n```python\nx = 2\n```\nDone.")
        edits = logic.apply(ctx, action["id"], "simplify", model)
        self.assertEqual(edits, [{
            "range": {"start": {"line": 3, "character": 0}, "end": {"line": 4, "character": 0}},
            "new_text": "x = 2\n",
        }])
        purpose, prompt = model.requests[0]
        self.assertEqual(purpose, "refactor")
        self.assertIn("simplify", prompt)
        self.assertIn("x = 1 + 1", prompt)

    def test_reply_without_code_is_unavailable(self):
        ctx = context("x = 1\n", NS(start=pos(0, 0), end=pos(1, 0)))
        with self.assertRaises(logic.PluginError) as caught:
            logic.apply(ctx, logic.REWRITE, None, FakeModel("I cannot."))
        self.assertEqual(caught.exception.kind, "unavailable")


if __name__ == "__main__":
    unittest.main()
