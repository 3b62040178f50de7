//! `cordon new NAME --kind completion|refactor|explain --lang rust|python|js`:
//! a plugin project from the templates in `templates/` (carried inside the
//! binary), which builds with one command, has a passing test and loads in
//! Cordon unchanged.
//!
//! Template layout: every file of `templates/<lang>/` but `kinds/` is
//! written at the same path, then `templates/<lang>/kinds/<kind>/` over it;
//! a `.tmpl` suffix is dropped; `{{name}}`, `{{snake}}`, `{{kind}}`,
//! `{{world}}`, `{{wit_version}}` and (Rust) `{{sdk_path}}` are replaced.
//! Python and JavaScript projects get the WIT package in `wit/`; Rust ones
//! depend on the SDK crate, unpacked from the binary into Cordon's data
//! folder.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::UsageError;
use cordon::runtime::check::API_VERSION;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// The kind of plugin to write.
#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Completion,
    Refactor,
    Explain,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Completion => "completion",
            Kind::Refactor => "refactor",
            Kind::Explain => "explain",
        }
    }
}

/// The language to write it in.
#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

impl Lang {
    fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
        }
    }

    /// What to run in the new project, for the message after it is made
    /// (its README.md says more).
    fn next_steps(self, snake: &str, name: &str) -> String {
        match self {
            Lang::Rust => format!(
                "cargo test\n  cargo build --release --target wasm32-wasip2\n  cordon plugins test target/wasm32-wasip2/release/{snake}.wasm src/lib.rs:1:1 --reply 'hello'"
            ),
            Lang::Python => format!(
                "python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt\n  python3 -m unittest && ./build.sh\n  cordon plugins test {name}.wasm src/app.py:1:1 --reply 'hello'"
            ),
            Lang::Js => format!(
                "npm install && npm test && npm run build\n  cordon plugins test {name}.wasm app.js:1:1 --reply 'hello'"
            ),
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// The plugin's name: lowercase letters, digits and `-`, starting with
    /// a letter (e.g. `todo-issues`). The project folder is named after it.
    name: String,
    /// What the plugin provides.
    #[arg(long)]
    kind: Kind,
    /// The language it is written in.
    #[arg(long)]
    lang: Lang,
    /// Write the project here instead of `./NAME`.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Whether `name` is a plugin name that is also a crate, package and
/// module name once `-` becomes `_`.
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The files of a project: relative path and contents, placeholders
/// replaced.
fn render(lang: Lang, kind: Kind, name: &str, sdk_path: &str) -> Vec<(PathBuf, String)> {
    let snake = name.replace('-', "_");
    let world = format!("{}-plugin", kind.name());
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{snake}}", &snake)
            .replace("{{kind}}", kind.name())
            .replace("{{world}}", &world)
            .replace("{{wit_version}}", API_VERSION)
            .replace("{{sdk_path}}", sdk_path)
    };
    let base = format!("{}/", lang.name());
    let overlay = format!("{}/kinds/{}/", lang.name(), kind.name());
    let kinds = format!("{}/kinds/", lang.name());
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    let mut put = |rel: &str, bytes: &[u8]| {
        let rel = rel.strip_suffix(".tmpl").unwrap_or(rel);
        let text = fill(&String::from_utf8_lossy(bytes));
        files.retain(|(path, _)| path != Path::new(rel));
        files.push((PathBuf::from(rel), text));
    };
    for (path, bytes) in embedded::TEMPLATES {
        if let Some(rel) = path.strip_prefix(&base)
            && !path.starts_with(&kinds)
        {
            put(rel, bytes);
        }
    }
    for (path, bytes) in embedded::TEMPLATES {
        if let Some(rel) = path.strip_prefix(&overlay) {
            put(rel, bytes);
        }
    }
    if lang != Lang::Rust {
        for (file, bytes) in embedded::WIT {
            files.push((
                Path::new("wit").join(file),
                String::from_utf8_lossy(bytes).into_owned(),
            ));
        }
    }
    files
}

/// Unpack the SDK crate (its WIT included) into `dir`, unless it is there
/// already with the same contents.
fn unpack_sdk(dir: &Path) -> Result<(), String> {
    let files = embedded::SDK
        .iter()
        .map(|(rel, bytes)| (PathBuf::from(rel), *bytes))
        .chain(
            embedded::WIT
                .iter()
                .map(|(file, bytes)| (Path::new("wit").join(file), *bytes)),
        );
    for (rel, bytes) in files {
        let path = dir.join(rel);
        if std::fs::read(&path).is_ok_and(|old| old == bytes) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// Where the SDK of this build is unpacked.
fn sdk_dir() -> Result<PathBuf, UsageError> {
    let data = dirs::data_dir().ok_or_else(|| {
        UsageError("no data folder to unpack the SDK in: set XDG_DATA_HOME or HOME".into())
    })?;
    Ok(data
        .join("cordon")
        .join("sdk")
        .join(format!("cordon-plugin-sdk-{}", embedded::SDK_VERSION)))
}

pub fn new(args: Args) -> Result<ExitCode, UsageError> {
    if !valid_name(&args.name) {
        return Err(UsageError(format!(
            "`{}` is not a plugin name: use lowercase letters, digits and single `-`, starting with a letter (e.g. `todo-issues`)",
            args.name
        )));
    }
    let dest = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    if std::fs::read_dir(&dest).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(UsageError(format!(
            "{} exists and is not empty; choose another NAME or --dir",
            dest.display()
        )));
    }
    let sdk_path = if args.lang == Lang::Rust {
        let dir = sdk_dir()?;
        unpack_sdk(&dir).map_err(|e| UsageError(format!("cannot unpack the SDK: {e}")))?;
        dir.display().to_string()
    } else {
        String::new()
    };
    let files = render(args.lang, args.kind, &args.name, &sdk_path);
    for (rel, text) in &files {
        let path = dest.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| UsageError(format!("cannot create {}: {e}", parent.display())))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| UsageError(format!("cannot write {}: {e}", path.display())))?;
        if rel.extension().is_some_and(|e| e == "sh") {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755));
        }
    }
    println!(
        "created {} ({} {} plugin `{}`, cordon:plugin@{API_VERSION}); next:\n  cd {}\n  {}",
        dest.display(),
        args.lang.name(),
        args.kind.name(),
        args.name,
        dest.display(),
        args.lang
            .next_steps(&args.name.replace('-', "_"), &args.name)
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_names_are_also_package_names() {
        assert!(valid_name("todo-issues"));
        assert!(valid_name("a2"));
        for bad in [
            "",
            "2fast",
            "-x",
            "x-",
            "a--b",
            "Todo",
            "todo_issues",
            "a b",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn every_language_and_kind_renders_with_no_placeholder_left() {
        for lang in [Lang::Rust, Lang::Python, Lang::Js] {
            for kind in [Kind::Completion, Kind::Refactor, Kind::Explain] {
                let files = render(lang, kind, "todo-issues", "/sdk");
                assert!(!files.is_empty(), "{lang:?} {kind:?}");
                for (path, text) in &files {
                    assert!(!text.contains("{{"), "{lang:?} {kind:?} {}", path.display());
                    assert!(
                        path.extension().is_none_or(|e| e != "tmpl"),
                        "{}",
                        path.display()
                    );
                }
                let readme = files
                    .iter()
                    .find(|(p, _)| p == Path::new("README.md"))
                    .map(|(_, t)| t)
                    .unwrap_or_else(|| panic!("{lang:?} {kind:?}: no README.md"));
                assert!(readme.contains("todo-issues"), "{lang:?} {kind:?}");
                let has_wit = files.iter().any(|(p, _)| p.starts_with("wit"));
                assert_eq!(has_wit, lang != Lang::Rust, "{lang:?}");
            }
        }
    }
}
