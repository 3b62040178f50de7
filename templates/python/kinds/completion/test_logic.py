"""`python3 -m unittest`: the plugin's logic with a fake model, no Wasm
toolchain needed."""

import sys
import unittest
from pathlib import Path
from types import SimpleNamespace as NS

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

import logic  # noqa: E402


def context():
    return NS(
        language_id="python", path="src/shop.py", cursor=NS(line=1, character=11),
        prefix="def total(items):\n    return ", suffix="\n",
        prefix_truncated=False, suffix_truncated=False,
        selection=None, selected_text=None, diagnostics=[],
    )


class FakeModel:
    def __init__(self, text):
        self.text = text
        self.requests = []

    def fim(self, prefix, suffix, language_id, path, max_tokens, stop=()):
        self.requests.append((prefix, suffix, language_id, path))
        return self.text


class CompletionTest(unittest.TestCase):
    def test_describe(self):
        self.assertEqual(logic.describe()["name"], "{{name}}")

    def test_one_item_at_the_cursor(self):
        model = FakeModel("sum(items)")
        items = logic.complete(context(), model)
        at = {"line": 1, "character": 11}
        self.assertEqual(items, [{
            "label": "sum(items)", "insert_text": "sum(items)",
            "replace": {"start": at, "end": at}, "detail": "{{name}}",
        }])
        self.assertEqual(model.requests, [("def total(items):\n    return ", "\n", "python", "src/shop.py")])

    def test_nothing_when_the_model_has_nothing(self):
        self.assertEqual(logic.complete(context(), FakeModel("  \n")), [])


if __name__ == "__main__":
    unittest.main()
