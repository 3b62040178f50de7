"""The component's exports: thin wrappers handing the host to `logic.py`."""

from wit_world import exports
from wit_world.exports import completion, describe

import host
import logic


class Describe(exports.Describe):
    def describe(self) -> describe.Info:
        info = logic.describe()
        requests = [describe.CapabilityRequest(**r) for r in info.pop("requests")]
        return describe.Info(**info, requests=requests)


class Completion(exports.Completion):
    def complete(self, context):
        try:
            items = logic.complete(context, host.HostModel())
        except logic.PluginError as error:
            raise host.host_error(error)
        return [
            completion.CompletionItem(
                label=i["label"],
                insert_text=i["insert_text"],
                replace=host.range_(i["replace"]),
                detail=i["detail"],
            )
            for i in items
        ]
