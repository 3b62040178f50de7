// The component's exports: thin wrappers handing the host to logic.js.
import * as model from "cordon:plugin/model@{{wit_version}}";
import * as logic from "./logic.js";

export const describe = {
  describe: () => logic.describe(),
};

export const refactor = {
  actions: (context) => logic.actions(context),
  apply: (context, id, instruction) => logic.apply(context, id, instruction, model),
};
