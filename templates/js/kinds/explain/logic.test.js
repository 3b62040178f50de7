// `node --test`: the plugin's logic with a fake model, no Wasm toolchain
// needed.
import assert from "node:assert/strict";
import { test } from "node:test";

import * as logic from "./logic.js";

function context(selectedText = null) {
  return {
    languageId: "python", path: "src/shop.py", cursor: { line: 1, character: 4 },
    prefix: "def total(items):\n    ", suffix: "return sum(items)\n",
    prefixTruncated: false, suffixTruncated: false,
    selection: null, selectedText, diagnostics: [],
  };
}

function fakeModel(text) {
  const requests = [];
  return { requests, chat: (request) => (requests.push(request), { text }) };
}

test("describe names the plugin", () => {
  assert.equal(logic.describe().name, "{{name}}");
});

test("returns the model's text", () => {
  const model = fakeModel("  `total` adds the items.\n");
  assert.equal(logic.explain(context(), model), "`total` adds the items.");
  assert.equal(model.requests[0].purpose, "explain");
  assert.ok(model.requests[0].messages[0].content.includes("def total(items):\n    <|cursor|>return sum(items)"));
});

test("a selection is explained alone", () => {
  const model = fakeModel("It sums.");
  logic.explain(context("sum(items)"), model);
  assert.ok(model.requests[0].messages[0].content.includes("```python\nsum(items)\n```"));
});

test("an empty reply is unavailable", () => {
  assert.throws(() => logic.explain(context(), fakeModel("")), { tag: "unavailable" });
});
