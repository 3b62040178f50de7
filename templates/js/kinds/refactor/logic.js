// Refactor logic of {{name}}, in plain JavaScript.
//
// Nothing here imports the host: records arrive and leave as the objects
// the bindings use (camelCase keys, enums as strings, an error as
// `{ tag: "invalid-request", val: "message" }` thrown), and the model is a
// parameter with the `cordon:plugin/model@{{wit_version}}` functions
// (`chat(request)` returning `{ text, ... }`). app.js passes the real
// import; logic.test.js passes a fake.

export const NAME = "{{name}}";
export const VERSION = "0.1.0";
export const DESCRIPTION = "Asks the model to rewrite the selection as you instruct";

/** Id of the one action; `apply` is called back with it. */
export const REWRITE = "rewrite-selection";
/** Used when the editor sends no instruction. */
export const DEFAULT_INSTRUCTION = "Make this code clearer without changing what it does.";
export const MAX_TOKENS = 2048;
export const TEMPERATURE = 0.2;

export const SYSTEM_PROMPT =
  "You are a refactoring tool inside a code editor. You receive a piece of " +
  "code and a task. Reply with the resulting code in exactly one fenced code " +
  "block and nothing else: no explanation, no elisions such as `...`. Keep " +
  "the indentation and style of the original.";

/** The WIT `error` variant `tag` (`invalid-request`, `unavailable`, ...). */
export function pluginError(tag, message) {
  return { tag, val: message };
}

/** The capabilities the plugin asks for, each with why (the policy decides). */
export const REQUESTS = [
  { capability: "model", why: "asks the model to rewrite the selection" },
];

export function describe() {
  return { name: NAME, version: VERSION, description: DESCRIPTION, requests: REQUESTS };
}

/** The actions for `ctx`: one, when something is selected. Never calls the
 * model (editors list actions on every cursor move). */
export function actions(ctx) {
  if (!ctx.selection || !(ctx.selectedText ?? "").trim()) return [];
  return [
    {
      id: REWRITE,
      title: "Ask the model to rewrite the selection",
      kind: "refactor.rewrite",
      needsInstruction: true,
    },
  ];
}

/** The edits of `id`: the selection replaced by the code of the model's
 * reply. */
export function apply(ctx, id, instruction, model) {
  if (id !== REWRITE) throw pluginError("invalid-request", `${NAME} has no action \`${id}\``);
  const selected = ctx.selectedText ?? "";
  if (!ctx.selection || !selected.trim()) {
    throw pluginError("invalid-request", "select the code to rewrite first");
  }
  const task = (instruction ?? "").trim() || DEFAULT_INSTRUCTION;
  const prompt =
    `File: ${ctx.path} (${ctx.languageId})\n` +
    `Task: ${task}\n\n` +
    "```" + ctx.languageId + "\n" + selected.replace(/\n+$/, "") + "\n```";
  const reply = model.chat({
    purpose: "refactor",
    system: SYSTEM_PROMPT,
    messages: [{ role: "user", content: prompt }],
    maxTokens: MAX_TOKENS,
    temperature: TEMPERATURE,
    stop: [],
  });
  let code = firstCodeBlock(reply.text);
  if (code === null) {
    throw pluginError("unavailable", "the model's reply had no complete fenced code block");
  }
  if (selected.endsWith("\n") && !code.endsWith("\n")) code += "\n";
  return [{ range: { start: ctx.selection.start, end: ctx.selection.end }, newText: code }];
}

/** The code of the first closed fenced code block of a Markdown reply
 * (``` or ~~~, at least three, indented at most three spaces), without its
 * final line break; null when there is none. */
export function firstCodeBlock(text) {
  let fence = null;
  const body = [];
  for (const line of text.split(/\r?\n/)) {
    const stripped = line.replace(/^ +/, "");
    const indent = line.length - stripped.length;
    if (fence === null) {
      const open = indent <= 3 && /^(`{3,}|~{3,})/.exec(stripped);
      if (open) fence = open[1];
      continue;
    }
    const close = stripped.trimEnd();
    if (indent <= 3 && close.length >= fence.length && close === fence[0].repeat(close.length)) {
      return body.join("\n");
    }
    body.push(line);
  }
  return null;
}
