// The component's exports: thin wrappers handing the host to logic.js.
import * as model from "cordon:plugin/model@{{wit_version}}";
import * as logic from "./logic.js";

export const describe = {
  describe: () => logic.describe(),
};

export const explain = {
  explain: (context) => logic.explain(context, model),
};
