//! The bindings `wit_bindgen::generate!` makes of `cordon:plugin@0.2.0`
//! (the crate's `wit/` folder: in Cordon's repository a symbolic link to
//! `wit/0.2.0/` at its root), generated once for every plugin.
//!
//! A component must export exactly its world (`completion-plugin`,
//! `refactor-plugin`, `explain-plugin`), and those worlds share `describe`,
//! so the package's worlds are generated in parts that a plugin links
//! together: [`base`] is `host-capabilities` plus the `describe` export and
//! generates every shared type (`types`, `model`, `workspace`, `log`,
//! `describe`); [`completion`], [`refactor`] and [`explain`] reuse those
//! (`with`) and generate only their own export. Each part is a one-line
//! world over the package's interfaces; `wit-component` unions the parts a
//! plugin exports ([`export_completion!`](crate::export_completion) = base +
//! completion) into exactly the package's world for that kind.
//!
//! The export macros are public (`pub_export_macro`), so a plugin crate
//! exports its world through the SDK's macros without depending on
//! wit-bindgen itself. Off `wasm32`, the imports compile to stubs that
//! panic, so plugin logic over these types also builds natively.

#![allow(missing_docs)]

/// `host-capabilities` and the `describe` export: every shared type.
pub mod base {
    wit_bindgen::generate!({
        path: "wit",
        inline: "
            package cordon:sdk;
            world plugin {
                include cordon:plugin/host-capabilities@0.2.0;
                export cordon:plugin/describe@0.2.0;
            }
        ",
        world: "cordon:sdk/plugin",
        pub_export_macro: true,
        default_bindings_module: "cordon_plugin_sdk::wit::base",
        generate_all,
        additional_derives: [PartialEq],
    });
}

/// The `completion` export.
pub mod completion {
    wit_bindgen::generate!({
        path: "wit",
        inline: "
            package cordon:sdk;
            world completion {
                include cordon:plugin/host-capabilities@0.2.0;
                export cordon:plugin/completion@0.2.0;
            }
        ",
        world: "cordon:sdk/completion",
        pub_export_macro: true,
        default_bindings_module: "cordon_plugin_sdk::wit::completion",
        additional_derives: [PartialEq],
        with: {
            "cordon:plugin/types@0.2.0": crate::wit::base::cordon::plugin::types,
            "cordon:plugin/model@0.2.0": crate::wit::base::cordon::plugin::model,
            "cordon:plugin/workspace@0.2.0": crate::wit::base::cordon::plugin::workspace,
            "cordon:plugin/log@0.2.0": crate::wit::base::cordon::plugin::log,
        },
    });
}

/// The `refactor` export.
pub mod refactor {
    wit_bindgen::generate!({
        path: "wit",
        inline: "
            package cordon:sdk;
            world refactor {
                include cordon:plugin/host-capabilities@0.2.0;
                export cordon:plugin/refactor@0.2.0;
            }
        ",
        world: "cordon:sdk/refactor",
        pub_export_macro: true,
        default_bindings_module: "cordon_plugin_sdk::wit::refactor",
        additional_derives: [PartialEq],
        with: {
            "cordon:plugin/types@0.2.0": crate::wit::base::cordon::plugin::types,
            "cordon:plugin/model@0.2.0": crate::wit::base::cordon::plugin::model,
            "cordon:plugin/workspace@0.2.0": crate::wit::base::cordon::plugin::workspace,
            "cordon:plugin/log@0.2.0": crate::wit::base::cordon::plugin::log,
        },
    });
}

/// The `explain` export.
pub mod explain {
    wit_bindgen::generate!({
        path: "wit",
        inline: "
            package cordon:sdk;
            world explain {
                include cordon:plugin/host-capabilities@0.2.0;
                export cordon:plugin/explain@0.2.0;
            }
        ",
        world: "cordon:sdk/explain",
        pub_export_macro: true,
        default_bindings_module: "cordon_plugin_sdk::wit::explain",
        additional_derives: [PartialEq],
        with: {
            "cordon:plugin/types@0.2.0": crate::wit::base::cordon::plugin::types,
            "cordon:plugin/model@0.2.0": crate::wit::base::cordon::plugin::model,
            "cordon:plugin/workspace@0.2.0": crate::wit::base::cordon::plugin::workspace,
            "cordon:plugin/log@0.2.0": crate::wit::base::cordon::plugin::log,
        },
    });
}
