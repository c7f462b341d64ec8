//! The workspace's layering, stated once and checked against the manifests: which losscape crates
//! each crate may depend on (ARCHITECTURE.md, "Invariants"), and which crates must build without
//! libtorch. The unit test reads every `Cargo.toml` of the workspace and fails on a dependency
//! that points upward or sideways against this order, on a crate missing from it, or on a
//! libtorch-free crate that could pull in `tch`.

/// Every workspace crate with the losscape crates it may depend on (normal, dev and build
/// dependencies alike). A crate's list holds only crates listed before it, so the order is a
/// layering: nothing depends upward. One more is allowed and not listed: a crate's
/// dev-dependency on itself, which turns on its own test-only feature for its tests, examples and
/// doc tests (losscape-directions' `testing`).
pub const LAYERS: &[(&str, &[&str])] = &[
    ("losscape-core", &[]),
    ("losscape-surface", &["losscape-core"]),
    ("losscape-data", &["losscape-core"]),
    ("losscape-models", &["losscape-core", "losscape-data"]),
    ("losscape-train", &["losscape-core", "losscape-data", "losscape-models"]),
    ("losscape-directions", &["losscape-core", "losscape-data", "losscape-models"]),
    (
        "losscape-landscape",
        &["losscape-core", "losscape-data", "losscape-models", "losscape-directions", "losscape-surface"],
    ),
    (
        "losscape-curvature",
        &["losscape-core", "losscape-data", "losscape-models", "losscape-directions", "losscape-surface", "losscape-landscape"],
    ),
    (
        "losscape-trajectory",
        &["losscape-core", "losscape-data", "losscape-models", "losscape-train", "losscape-directions"],
    ),
    ("losscape-plot", &["losscape-core", "losscape-surface"]),
    (
        "losscape",
        &[
            "losscape-core",
            "losscape-surface",
            "losscape-data",
            "losscape-models",
            "losscape-train",
            "losscape-directions",
            "losscape-landscape",
            "losscape-curvature",
            "losscape-trajectory",
            "losscape-plot",
        ],
    ),
    ("losscape-cli", &["losscape"]),
    ("xtask", &["losscape-surface"]),
];

/// Crates that must build without libtorch: they may not name `tch`, and their dependency on
/// losscape-core must turn its default (`torch`) feature off.
pub const WITHOUT_LIBTORCH: &[&str] = &["losscape-core", "losscape-surface", "losscape-plot", "xtask"];

/// One dependency as a manifest declares it.
#[derive(Debug, PartialEq)]
pub struct Dependency {
    pub name: String,
    /// The manifest section (`dependencies`, `dev-dependencies`, `build-dependencies`, ...).
    pub section: String,
    /// Whether the declaration turns default features off.
    pub no_default_features: bool,
    /// Whether it is optional (behind a feature).
    pub optional: bool,
}

/// The package name and the dependencies of a `Cargo.toml` (the plain subset of TOML the
/// workspace uses: `name = ...`, `name.workspace = true`, inline tables; sections
/// `[dependencies]`, `[dev-dependencies]`, `[build-dependencies]` and their target-specific forms).
pub fn parse_manifest(text: &str) -> (Option<String>, Vec<Dependency>) {
    let mut section = String::new();
    let mut package = None;
    let mut deps = Vec::new();
    for line in text.lines() {
        let line = line.split(" #").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = header.rsplit('.').next().unwrap_or(header).trim().to_owned();
            if header.starts_with("target.") || header.starts_with("workspace.") {
                section = if header.starts_with("workspace.") { format!("workspace.{section}") } else { section };
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        let key = key.trim();
        if section == "package" && key == "name" {
            package = Some(value.trim().trim_matches('"').to_owned());
        }
        if section.ends_with("dependencies") && !section.starts_with("workspace.") {
            let name = key.strip_suffix(".workspace").unwrap_or(key).trim().to_owned();
            let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
            deps.push(Dependency {
                name,
                section: section.clone(),
                no_default_features: compact.contains("default-features=false"),
                optional: compact.contains("optional=true"),
            });
        }
    }
    (package, deps)
}

/// Every breach of [`LAYERS`] and [`WITHOUT_LIBTORCH`] in the given manifests (package name,
/// dependencies), one line each.
pub fn breaches(manifests: &[(String, Vec<Dependency>)]) -> Vec<String> {
    let mut out = Vec::new();
    let allowed = |krate: &str| LAYERS.iter().find(|(c, _)| *c == krate).map(|(_, a)| *a);
    // The stated order itself: each crate's list names only crates listed before it.
    for (k, (krate, deps)) in LAYERS.iter().enumerate() {
        for d in *deps {
            if !LAYERS[..k].iter().any(|(c, _)| c == d) {
                out.push(format!("LAYERS: {krate} may depend on {d}, which is not below it"));
            }
        }
    }
    for (krate, deps) in manifests {
        let Some(ok) = allowed(krate) else {
            out.push(format!("{krate} is not in the stated layering (xtask/src/layers.rs, ARCHITECTURE.md)"));
            continue;
        };
        for d in deps {
            let ours = d.name == "losscape" || d.name.starts_with("losscape-");
            let own_tests = d.name == *krate && d.section == "dev-dependencies";
            if ours && !ok.contains(&d.name.as_str()) && !own_tests {
                out.push(format!("{krate} depends on {} ([{}]) against the layering", d.name, d.section));
            }
            if WITHOUT_LIBTORCH.contains(&krate.as_str()) {
                if d.name == "tch" && !(krate == "losscape-core" && d.optional) {
                    out.push(format!("{krate} must build without libtorch but depends on tch ([{}])", d.section));
                }
                if d.name == "losscape-core" && !d.no_default_features {
                    out.push(format!("{krate} must build without libtorch but takes losscape-core with its torch feature"));
                }
                if ours && d.name != "losscape-core" && !WITHOUT_LIBTORCH.contains(&d.name.as_str()) {
                    out.push(format!("{krate} must build without libtorch but depends on {}, which links it", d.name));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn workspace_manifests() -> Vec<(String, Vec<Dependency>)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
        let mut paths = vec![root.join("Cargo.toml"), root.join("xtask/Cargo.toml")];
        let mut crates: Vec<_> = std::fs::read_dir(root.join("crates")).unwrap().map(|e| e.unwrap().path()).collect();
        crates.sort();
        paths.extend(crates.into_iter().map(|c| c.join("Cargo.toml")).filter(|p| p.is_file()));
        paths
            .iter()
            .map(|p| {
                let (name, deps) = parse_manifest(&std::fs::read_to_string(p).unwrap());
                (name.unwrap_or_else(|| panic!("{} names no package", p.display())), deps)
            })
            .collect()
    }

    #[test]
    fn the_workspace_keeps_its_layering() {
        let manifests = workspace_manifests();
        assert!(manifests.len() >= LAYERS.len(), "read {} manifests", manifests.len());
        for (krate, _) in LAYERS {
            assert!(manifests.iter().any(|(n, _)| n == krate), "{krate} is stated but has no manifest");
        }
        let found = breaches(&manifests);
        assert!(found.is_empty(), "layering breaches:\n{}", found.join("\n"));
    }

    #[test]
    fn upward_sideways_and_libtorch_dependencies_are_caught() {
        let manifest = |text: &str| {
            let (name, deps) = parse_manifest(text);
            (name.unwrap(), deps)
        };
        let upward = manifest("[package]\nname = \"losscape-models\"\n\n[dependencies]\nlosscape-landscape.workspace = true\n");
        let sideways = manifest("[package]\nname = \"losscape-train\"\n[dev-dependencies]\nlosscape-directions = { path = \"../d\" }\n");
        let torch = manifest(
            "[package]\nname = \"losscape-plot\"\n[dependencies]\nlosscape-core = { path = \"../c\" } # with torch\ntch.workspace = true\n",
        );
        let fine = manifest(
            "[package]\nname = \"losscape-surface\"\n[dependencies]\nlosscape-core = { path = \"../c\", default-features = false }\nserde.workspace = true\n",
        );
        let unknown = manifest("[package]\nname = \"losscape-new\"\n[dependencies]\n");
        // A dev-dependency on itself (its own test feature) is fine; a normal one is not.
        let own_tests = manifest("[package]\nname = \"losscape-data\"\n[dev-dependencies]\nlosscape-data = { workspace = true }\n");
        let itself = manifest("[package]\nname = \"losscape-models\"\n[dependencies]\nlosscape-models = { path = \".\" }\n");
        let found = breaches(&[upward, sideways, torch, fine, unknown, own_tests, itself]);
        assert_eq!(found.len(), 6, "{found:#?}");
        assert!(found[0].contains("losscape-models depends on losscape-landscape"));
        assert!(found[1].contains("losscape-train depends on losscape-directions ([dev-dependencies])"));
        assert!(found[2].contains("takes losscape-core with its torch feature"));
        assert!(found[3].contains("depends on tch"));
        assert!(found[4].contains("losscape-new is not in the stated layering"));
        assert!(found[5].contains("losscape-models depends on losscape-models ([dependencies])"));
    }
}
