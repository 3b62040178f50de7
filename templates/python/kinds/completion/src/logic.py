"""Completion logic of {{name}}, in plain Python.

Nothing here imports the generated bindings: the document context is read
by attribute (`ctx.prefix`, `ctx.cursor.line`, ...), the model is any
object with `fim(prefix, suffix, language_id, path, max_tokens)` returning
the generated text, and results are plain dicts shaped like the WIT
records (snake_case keys). `app.py` wires the real host in;
`test_logic.py` passes a fake.
"""

NAME = "{{name}}"
VERSION = "0.1.0"
DESCRIPTION = "Completes the code at the cursor with a fill-in-the-middle model"

MAX_TOKENS = 128
#: Longest label shown in the editor's list.
MAX_LABEL = 60


class PluginError(Exception):
    """A failure reported to the host as the WIT `error` variant `kind`
    (`invalid-request`, `unavailable`, ...)."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


#: The capabilities the plugin asks for, each with why (the policy decides).
REQUESTS = [
    {"capability": "model", "why": "fills in the code at the cursor"},
]


def describe():
    return {"name": NAME, "version": VERSION, "description": DESCRIPTION, "requests": REQUESTS}


def complete(ctx, model):
    """One proposal for the cursor of `ctx`: what the model writes between
    the text before and after the cursor, inserted at the cursor. No item when
    the model has nothing to add."""
    text = model.fim(ctx.prefix, ctx.suffix, ctx.language_id, ctx.path, MAX_TOKENS)
    if not text.strip():
        return []
    cursor = {"line": ctx.cursor.line, "character": ctx.cursor.character}
    return [
        {
            "label": label(text),
            "insert_text": text,
            "replace": {"start": cursor, "end": dict(cursor)},
            "detail": NAME,
        }
    ]


def label(text):
    """The first non-blank line of `text`, shortened to `MAX_LABEL`."""
    first = next(line.strip() for line in text.splitlines() if line.strip())
    return first if len(first) <= MAX_LABEL else first[: MAX_LABEL - 1] + "…"
