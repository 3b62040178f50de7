// `node --test`: the plugin's logic with a fake model, no Wasm toolchain
// needed.
import assert from "node:assert/strict";
import { test } from "node:test";

import * as logic from "./logic.js";

function context(selectedText = null, selection = null) {
  return {
    languageId: "python", path: "src/shop.py", cursor: { line: 1, character: 0 },
    prefix: "def total(items):\n", suffix: "    return sum(items)\n",
    prefixTruncated: false, suffixTruncated: false,
    selection, selectedText, diagnostics: [],
  };
}

function fakeModel(text) {
  const requests = [];
  return { requests, chat: (request) => (requests.push(request), { text }) };
}

test("describe names the plugin", () => {
  assert.equal(logic.describe().name, "{{name}}");
});

test("no action without a selection", () => {
  assert.deepEqual(logic.actions(context()), []);
});

test("the selection is rewritten from the reply's code block", () => {
  const selection = { start: { line: 3, character: 0 }, end: { line: 4, character: 0 } };
  const ctx = context("x = 1 + 1\n", selection);
  const [action] = logic.actions(ctx);
  const model = fakeModel("Here you are:\n```python\nx = 2\n```\nDone.");
  assert.deepEqual(logic.apply(ctx, action.id, "simplify", model), [
    { range: selection, newText: "x = 2\n" },
  ]);
  assert.equal(model.requests[0].purpose, "refactor");
  assert.match(model.requests[0].messages[0].content, /simplify[\s\S]*x = 1 \+ 1/);
});

test("a reply without code is unavailable", () => {
  const ctx = context("x = 1\n", { start: { line: 0, character: 0 }, end: { line: 1, character: 0 } });
  assert.throws(() => logic.apply(ctx, logic.REWRITE, null, fakeModel("I cannot.")), {
    tag: "unavailable",
  });
});
