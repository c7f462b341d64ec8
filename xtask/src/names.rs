//! The workspace's public type names, checked for clashes: no two library crates may declare a
//! public struct, enum, trait or type alias of the same name (each crate's `Error` and `Result`
//! excepted), so that `use losscape::{a::X, b::Y}` never needs an alias and a name means one
//! thing (ARCHITECTURE.md, "Invariants"). The unit test reads every library crate's sources.

use std::collections::BTreeMap;
use std::path::Path;

/// Names every crate declares on purpose: its own error type and result alias.
pub const PER_CRATE: &[&str] = &["Error", "Result"];

/// The public type names declared at the start of a line in `source` (`pub struct X`,
/// `pub enum X`, `pub trait X`, `pub type X`).
pub fn public_types(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in source.lines() {
        for keyword in ["pub struct ", "pub enum ", "pub trait ", "pub type "] {
            if let Some(rest) = line.strip_prefix(keyword) {
                let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        }
    }
    out
}

/// Every name declared by more than one crate, with the crates, one line each.
pub fn clashes(declared: &[(String, Vec<String>)]) -> Vec<String> {
    let mut owners: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (krate, names) in declared {
        for name in names {
            let list = owners.entry(name.as_str()).or_default();
            if !list.contains(&krate.as_str()) {
                list.push(krate.as_str());
            }
        }
    }
    owners
        .into_iter()
        .filter(|(name, crates)| crates.len() > 1 && !PER_CRATE.contains(name))
        .map(|(name, crates)| format!("{name} is declared by {}", crates.join(", ")))
        .collect()
}

/// The public type names of every `.rs` file under `dir`, recursively.
pub fn crate_types(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            names.extend(crate_types(&path)?);
        } else if path.extension().is_some_and(|e| e == "rs") {
            names.extend(public_types(&std::fs::read_to_string(&path)?));
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_library_crates_declare_the_same_public_type() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let mut declared = Vec::new();
        for entry in std::fs::read_dir(root.join("crates")).unwrap() {
            let dir = entry.unwrap().path();
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            // The binary's flag enums mirror library types on purpose (clap derives them).
            if name == "losscape-cli" || !dir.join("src").is_dir() {
                continue;
            }
            declared.push((name, crate_types(&dir.join("src")).unwrap()));
        }
        assert!(declared.len() >= 10, "read {} crates", declared.len());
        let found = clashes(&declared);
        assert!(found.is_empty(), "public type names declared twice (rename the less central one):\n{}", found.join("\n"));
    }

    #[test]
    fn clashes_are_found_and_error_types_are_not_clashes() {
        let a = public_types("pub struct Grid {\n    pub enum NotAtLineStart,\n}\npub enum Error {}\npub type Result<T> = T;\n");
        assert_eq!(a, ["Grid", "Error", "Result"]);
        let b = public_types("pub(crate) struct Hidden;\npub trait Grid {}\npub struct Other<'a>(&'a str);\n");
        assert_eq!(b, ["Grid", "Other"]);
        let found = clashes(&[("surface".into(), a), ("plot".into(), b)]);
        assert_eq!(found, ["Grid is declared by surface, plot"]);
    }
}
