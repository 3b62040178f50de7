//! Prints `cordon policy explain` for a policy file: `cargo run --example
//! explain -- POLICY.toml PLUGIN [--json]`.

use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(file), Some(plugin)) = (args.first(), args.get(1)) else {
        eprintln!("usage: explain POLICY.toml PLUGIN [--json]");
        std::process::exit(2);
    };
    let policy =
        match cordon_policy::load(&[(cordon_policy::Layer::Organisation, PathBuf::from(file))]) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        };
    for warning in policy.warnings() {
        eprintln!("warning: {warning}");
    }
    let explanation = policy.explain(plugin);
    if args.iter().any(|a| a == "--json") {
        println!(
            "{}",
            serde_json::to_string_pretty(&explanation).expect("serialises")
        );
    } else {
        print!("{explanation}");
    }
}
