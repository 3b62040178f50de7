// Explain logic of {{name}}, in plain JavaScript.
//
// Nothing here imports the host: records arrive as the objects the
// bindings use (camelCase keys, enums as strings, an error as
// `{ tag: "invalid-request", val: "message" }` thrown), and the model is a
// parameter with the `cordon:plugin/model@{{wit_version}}` functions
// (`chat(request)` returning `{ text, ... }`). app.js passes the real
// import; logic.test.js passes a fake.

export const NAME = "{{name}}";
export const VERSION = "0.1.0";
export const DESCRIPTION = "Explains the selection, or the code around the cursor, in Markdown";

export const MAX_TOKENS = 1024;
export const TEMPERATURE = 0.2;
/** Lines of context on each side of the cursor when nothing is selected. */
export const CONTEXT_LINES = 30;
const CURSOR = "<|cursor|>";

export const SYSTEM_PROMPT =
  "You explain code to a programmer inside their editor. Be concise and " +
  "concrete: say what the code does, how, and anything surprising. Answer " +
  "in Markdown.";

/** The WIT `error` variant `tag` (`invalid-request`, `unavailable`, ...). */
export function pluginError(tag, message) {
  return { tag, val: message };
}

/** The capabilities the plugin asks for, each with why (the policy decides). */
export const REQUESTS = [
  { capability: "model", why: "asks the model to explain the code" },
];

export function describe() {
  return { name: NAME, version: VERSION, description: DESCRIPTION, requests: REQUESTS };
}

/** Markdown explaining the selection of `ctx`, or the lines around its
 * cursor. */
export function explain(ctx, model) {
  const selected = ctx.selectedText ?? "";
  let what;
  let code;
  if (selected.trim()) {
    what = "this code";
    code = selected;
  } else {
    what = `the code around the cursor (marked \`${CURSOR}\`)`;
    const before = ctx.prefix.split("\n").slice(-CONTEXT_LINES).join("\n");
    const after = ctx.suffix.split("\n").slice(0, CONTEXT_LINES).join("\n");
    if (!(before + after).trim()) throw pluginError("invalid-request", "there is no code here to explain");
    code = before + CURSOR + after;
  }
  const prompt =
    `Explain ${what} from ${ctx.path} (${ctx.languageId}):\n\n` +
    "```" + ctx.languageId + "\n" + code.trimEnd() + "\n```";
  const { text } = model.chat({
    purpose: "explain",
    system: SYSTEM_PROMPT,
    messages: [{ role: "user", content: prompt }],
    maxTokens: MAX_TOKENS,
    temperature: TEMPERATURE,
    stop: [],
  });
  if (!text.trim()) throw pluginError("unavailable", "the model answered with an empty explanation");
  return text.trim();
}
