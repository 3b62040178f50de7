"""Refactor logic of {{name}}, in plain Python.

Nothing here imports the generated bindings: the document context is read
by attribute (`ctx.selected_text`, `ctx.selection.start.line`, ...), the
model is any object with `chat(purpose, system, prompt, max_tokens,
temperature)` returning the reply's text, and results are plain dicts
shaped like the WIT records (snake_case keys). `app.py` wires the real
host in; `test_logic.py` passes a fake.
"""

NAME = "{{name}}"
VERSION = "0.1.0"
DESCRIPTION = "Asks the model to rewrite the selection as you instruct"

#: Id of the one action; `apply` is called back with it.
REWRITE = "rewrite-selection"
#: Used when the editor sends no instruction.
DEFAULT_INSTRUCTION = "Make this code clearer without changing what it does."
MAX_TOKENS = 2048
TEMPERATURE = 0.2

SYSTEM_PROMPT = (
    "You are a refactoring tool inside a code editor. You receive a piece of "
    "code and a task. Reply with the resulting code in exactly one fenced code "
    "block and nothing else: no explanation, no elisions such as `...`. Keep "
    "the indentation and style of the original."
)


class PluginError(Exception):
    """A failure reported to the host as the WIT `error` variant `kind`
    (`invalid-request`, `unavailable`, ...)."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


#: The capabilities the plugin asks for, each with why (the policy decides).
REQUESTS = [
    {"capability": "model", "why": "asks the model to rewrite the selection"},
]


def describe():
    return {"name": NAME, "version": VERSION, "description": DESCRIPTION, "requests": REQUESTS}


def actions(ctx):
    """The actions for `ctx`: one, when something is selected. Never calls
    the model (editors list actions on every cursor move)."""
    if ctx.selection is None or not (ctx.selected_text or "").strip():
        return []
    return [
        {
            "id": REWRITE,
            "title": "Ask the model to rewrite the selection",
            "kind": "refactor.rewrite",
            "needs_instruction": True,
        }
    ]


def apply(ctx, action_id, instruction, model):
    """The edits of `action_id`: the selection replaced by the code of the
    model's reply."""
    if action_id != REWRITE:
        raise PluginError("invalid-request", f"{NAME} has no action `{action_id}`")
    selected = ctx.selected_text or ""
    if ctx.selection is None or not selected.strip():
        raise PluginError("invalid-request", "select the code to rewrite first")
    task = (instruction or "").strip() or DEFAULT_INSTRUCTION
    prompt = (
        f"File: {ctx.path} ({ctx.language_id})\n"
        f"Task: {task}\n\n"
        f"```{ctx.language_id}\n{selected.rstrip(chr(10))}\n```"
    )
    reply = model.chat("refactor", SYSTEM_PROMPT, prompt, MAX_TOKENS, TEMPERATURE)
    code = first_code_block(reply)
    if code is None:
        raise PluginError("unavailable", "the model's reply had no complete fenced code block")
    if selected.endswith("\n") and not code.endswith("\n"):
        code += "\n"
    return [{"range": _range(ctx.selection), "new_text": code}]


def first_code_block(text):
    """The code of the first closed fenced code block of a Markdown reply
    (``` or ~~~, at least three, indented at most three spaces), without
    its final line break; None when there is none."""
    fence = None
    body = []
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if fence is None:
            if indent <= 3 and stripped[:3] in ("```", "~~~"):
                char = stripped[0]
                fence = char * (len(stripped) - len(stripped.lstrip(char)))
            continue
        if indent <= 3 and stripped.rstrip() and stripped.rstrip() == fence[0] * len(stripped.rstrip()) \
                and len(stripped.rstrip()) >= len(fence):
            return "\n".join(body)
        body.append(line)
    return None


def _range(r):
    return {
        "start": {"line": r.start.line, "character": r.start.character},
        "end": {"line": r.end.line, "character": r.end.character},
    }
