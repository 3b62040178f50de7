// `node --test`: the plugin's logic with a fake model, no Wasm toolchain
// needed.
import assert from "node:assert/strict";
import { test } from "node:test";

import * as logic from "./logic.js";

const context = {
  languageId: "python", path: "src/shop.py", cursor: { line: 1, character: 11 },
  prefix: "def total(items):\n    return ", suffix: "\n",
  prefixTruncated: false, suffixTruncated: false,
  selection: null, selectedText: null, diagnostics: [],
};

function fakeModel(text) {
  const requests = [];
  return { requests, fim: (request) => (requests.push(request), { text }) };
}

test("describe names the plugin", () => {
  assert.equal(logic.describe().name, "{{name}}");
});

test("one item at the cursor", () => {
  const model = fakeModel("sum(items)");
  const at = { line: 1, character: 11 };
  assert.deepEqual(logic.complete(context, model), [
    { label: "sum(items)", insertText: "sum(items)", replace: { start: at, end: at }, detail: "{{name}}" },
  ]);
  assert.equal(model.requests[0].prefix, context.prefix);
  assert.equal(model.requests[0].suffix, "\n");
  assert.equal(model.requests[0].languageId, "python");
});

test("nothing when the model has nothing", () => {
  assert.deepEqual(logic.complete(context, fakeModel("  \n")), []);
});
