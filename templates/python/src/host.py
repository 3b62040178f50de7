"""The bindings side of {{name}}: turns the host's `model` import into the
plain object `logic.py` expects, and `logic.py`'s plain results into the
records of `cordon:plugin@{{wit_version}}`.

Only `app.py` imports this module; it needs the bindings componentize-py
generates while building, so the tests never load it.
"""

from componentize_py_types import Err
from wit_world.imports import model, types

_PURPOSES = {
    "completion": model.Purpose.COMPLETION,
    "explain": model.Purpose.EXPLAIN,
    "refactor": model.Purpose.REFACTOR,
    "chat": model.Purpose.CHAT,
}

_ERRORS = {
    "denied": types.Error_Denied,
    "budget-exceeded": types.Error_BudgetExceeded,
    "rate-limited": types.Error_RateLimited,
    "timeout": types.Error_Timeout,
    "unavailable": types.Error_Unavailable,
    "invalid-request": types.Error_InvalidRequest,
}


class HostModel:
    """The `model` capability, as `logic.py` calls it. A host error (denied,
    timeout, ...) is raised as `Err(types.Error_*)` and passes through
    `logic.py` unchanged, so the caller sees the host's own message."""

    def chat(self, purpose, system, prompt, max_tokens, temperature=None, stop=()):
        request = model.ChatRequest(
            purpose=_PURPOSES[purpose],
            system=system,
            messages=[model.Message(role=model.Role.USER, content=prompt)],
            max_tokens=max_tokens,
            temperature=temperature,
            stop=list(stop),
        )
        return model.chat(request).text

    def fim(self, prefix, suffix, language_id, path, max_tokens, stop=()):
        request = model.FimRequest(
            prefix=prefix,
            suffix=suffix,
            language_id=language_id,
            path=path,
            max_tokens=max_tokens,
            stop=list(stop),
        )
        return model.fim(request).text


def host_error(error):
    """`Err` carrying the WIT error for a `logic.PluginError`."""
    return Err(_ERRORS.get(error.kind, types.Error_InvalidRequest)(error.message))


def position(p):
    return types.Position(line=p["line"], character=p["character"])


def range_(r):
    return types.Range(start=position(r["start"]), end=position(r["end"]))
