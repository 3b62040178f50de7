"""`python3 -m unittest`: the plugin's logic with a fake model, no Wasm
toolchain needed."""

import sys
import unittest
from pathlib import Path
from types import SimpleNamespace as NS

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

import logic  # noqa: E402


def context(selected=None):
    return NS(
        language_id="python", path="src/shop.py", cursor=NS(line=1, character=4),
        prefix="def total(items):\n    ", suffix="return sum(items)\n",
        prefix_truncated=False, suffix_truncated=False,
        selection=None, selected_text=selected, diagnostics=[],
    )


class FakeModel:
    def __init__(self, reply):
        self.reply = reply
        self.requests = []

    def chat(self, purpose, system, prompt, max_tokens, temperature=None, stop=()):
        self.requests.append((purpose, prompt))
        return self.reply


class ExplainTest(unittest.TestCase):
    def test_describe(self):
        self.assertEqual(logic.describe()["name"], "{{name}}")

    def test_returns_the_model_text(self):
        model = FakeModel("  `total` adds the items.\n")
        self.assertEqual(logic.explain(context(), model), "`total` adds the items.")
        purpose, prompt = model.requests[0]
        self.assertEqual(purpose, "explain")
        self.assertIn("def total(items):\n    <|cursor|>return sum(items)", prompt)

    def test_selection_is_explained_alone(self):
        model = FakeModel("It sums.")
        logic.explain(context("sum(items)"), model)
        self.assertIn("```python\nsum(items)\n```", model.requests[0][1])

    def test_empty_reply_is_unavailable(self):
        with self.assertRaises(logic.PluginError) as caught:
            logic.explain(context(), FakeModel(""))
        self.assertEqual(caught.exception.kind, "unavailable")


if __name__ == "__main__":
    unittest.main()
