"""The component's exports: thin wrappers handing the host to `logic.py`."""

from wit_world import exports
from wit_world.exports import describe, refactor
from wit_world.imports import types

import host
import logic


class Describe(exports.Describe):
    def describe(self) -> describe.Info:
        info = logic.describe()
        requests = [describe.CapabilityRequest(**r) for r in info.pop("requests")]
        return describe.Info(**info, requests=requests)


class Refactor(exports.Refactor):
    def actions(self, context):
        return [refactor.Action(**a) for a in logic.actions(context)]

    def apply(self, context, id, instruction):
        try:
            edits = logic.apply(context, id, instruction, host.HostModel())
        except logic.PluginError as error:
            raise host.host_error(error)
        return [types.TextEdit(range=host.range_(e["range"]), new_text=e["new_text"]) for e in edits]
