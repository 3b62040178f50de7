//! The export macros, one per plugin kind: the `describe` export (shared)
//! plus the kind's own.

/// Exports `$ty` as a `completion-plugin` component. `$ty` implements
/// [`DescribeGuest`](crate::DescribeGuest) and
/// [`CompletionGuest`](crate::CompletionGuest).
///
/// ```text
/// struct Plugin;
/// impl cordon_plugin_sdk::DescribeGuest for Plugin { ... }
/// impl cordon_plugin_sdk::CompletionGuest for Plugin { ... }
/// cordon_plugin_sdk::export_completion!(Plugin);
/// ```
#[macro_export]
macro_rules! export_completion {
    ($ty:ident) => {
        $crate::wit::base::export!($ty with_types_in $crate::wit::base);
        $crate::wit::completion::export!($ty with_types_in $crate::wit::completion);
    };
}

/// Exports `$ty` as a `refactor-plugin` component. `$ty` implements
/// [`DescribeGuest`](crate::DescribeGuest) and
/// [`RefactorGuest`](crate::RefactorGuest).
#[macro_export]
macro_rules! export_refactor {
    ($ty:ident) => {
        $crate::wit::base::export!($ty with_types_in $crate::wit::base);
        $crate::wit::refactor::export!($ty with_types_in $crate::wit::refactor);
    };
}

/// Exports `$ty` as an `explain-plugin` component. `$ty` implements
/// [`DescribeGuest`](crate::DescribeGuest) and
/// [`ExplainGuest`](crate::ExplainGuest).
#[macro_export]
macro_rules! export_explain {
    ($ty:ident) => {
        $crate::wit::base::export!($ty with_types_in $crate::wit::base);
        $crate::wit::explain::export!($ty with_types_in $crate::wit::explain);
    };
}
