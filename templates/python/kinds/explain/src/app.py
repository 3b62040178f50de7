"""The component's exports: thin wrappers handing the host to `logic.py`."""

from wit_world import exports
from wit_world.exports import describe

import host
import logic


class Describe(exports.Describe):
    def describe(self) -> describe.Info:
        info = logic.describe()
        requests = [describe.CapabilityRequest(**r) for r in info.pop("requests")]
        return describe.Info(**info, requests=requests)


class Explain(exports.Explain):
    def explain(self, context):
        try:
            return logic.explain(context, host.HostModel())
        except logic.PluginError as error:
            raise host.host_error(error)
