// Completion logic of {{name}}, in plain JavaScript.
//
// Nothing here imports the host: records arrive and leave as the objects
// the bindings use (camelCase keys, enums as strings, an error as
// `{ tag: "invalid-request", val: "message" }` thrown), and the model is a
// parameter with the `cordon:plugin/model@{{wit_version}}` functions
// (`fim(request)` returning `{ text, ... }`). app.js passes the real
// import; logic.test.js passes a fake.

export const NAME = "{{name}}";
export const VERSION = "0.1.0";
export const DESCRIPTION = "Completes the code at the cursor with a fill-in-the-middle model";

export const MAX_TOKENS = 128;
/** Longest label shown in the editor's list. */
export const MAX_LABEL = 60;

/** The capabilities the plugin asks for, each with why (the policy decides). */
export const REQUESTS = [
  { capability: "model", why: "fills in the code at the cursor" },
];

export function describe() {
  return { name: NAME, version: VERSION, description: DESCRIPTION, requests: REQUESTS };
}

/** One proposal for the cursor of `ctx`: what the model writes between the
 * text before and after the cursor, inserted at the cursor. No item when the
 * model has nothing to add. */
export function complete(ctx, model) {
  const { text } = model.fim({
    prefix: ctx.prefix,
    suffix: ctx.suffix,
    languageId: ctx.languageId,
    path: ctx.path,
    maxTokens: MAX_TOKENS,
    stop: [],
  });
  if (!text.trim()) return [];
  const at = { line: ctx.cursor.line, character: ctx.cursor.character };
  return [{ label: label(text), insertText: text, replace: { start: at, end: { ...at } }, detail: NAME }];
}

/** The first non-blank line of `text`, shortened to `MAX_LABEL`
 * characters. */
export function label(text) {
  const first = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l) ?? "";
  const chars = [...first];
  return chars.length <= MAX_LABEL ? first : chars.slice(0, MAX_LABEL - 1).join("") + "…";
}
