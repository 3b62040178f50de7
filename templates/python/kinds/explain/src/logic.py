"""Explain logic of {{name}}, in plain Python.

Nothing here imports the generated bindings: the document context is read
by attribute (`ctx.selected_text`, `ctx.prefix`, ...) and the model is any
object with `chat(purpose, system, prompt, max_tokens, temperature)`
returning the reply's text. `app.py` wires the real host in;
`test_logic.py` passes a fake.
"""

NAME = "{{name}}"
VERSION = "0.1.0"
DESCRIPTION = "Explains the selection, or the code around the cursor, in Markdown"

MAX_TOKENS = 1024
TEMPERATURE = 0.2
#: Lines of context on each side of the cursor when nothing is selected.
CONTEXT_LINES = 30

SYSTEM_PROMPT = (
    "You explain code to a programmer inside their editor. Be concise and "
    "concrete: say what the code does, how, and anything surprising. Answer "
    "in Markdown."
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
    {"capability": "model", "why": "asks the model to explain the code"},
]


def describe():
    return {"name": NAME, "version": VERSION, "description": DESCRIPTION, "requests": REQUESTS}


def explain(ctx, model):
    """Markdown explaining the selection of `ctx`, or the lines around its
    cursor."""
    selected = ctx.selected_text or ""
    if selected.strip():
        what = "this code"
        code = selected
    else:
        what = "the code around the cursor (marked `<|cursor|>`)"
        before = "\n".join(ctx.prefix.split("\n")[-CONTEXT_LINES:])
        after = "\n".join(ctx.suffix.split("\n")[:CONTEXT_LINES])
        code = before + "<|cursor|>" + after
    if not code.strip() or code == "<|cursor|>":
        raise PluginError("invalid-request", "there is no code here to explain")
    prompt = f"Explain {what} from {ctx.path} ({ctx.language_id}):\n\n```{ctx.language_id}\n{code.rstrip()}\n```"
    text = model.chat("explain", SYSTEM_PROMPT, prompt, MAX_TOKENS, TEMPERATURE)
    if not text.strip():
        raise PluginError("unavailable", "the model answered with an empty explanation")
    return text.strip()
