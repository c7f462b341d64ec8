//! The CLI README lists every subcommand that `losscape --help` shows, and every data source
//! form that `--dataset` takes is in its help: a subcommand added without its README row, or a
//! source without its help, fails here.

use std::process::Command;

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_losscape")).args(args).output().unwrap();
    assert!(out.status.success(), "losscape {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommand names of a clap help text (the `Commands:` section, without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_subcommand_has_a_readme_row() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let names = subcommands(&help(&["--help"]));
    assert!(names.len() >= 9 && names.contains(&"trajectory".to_owned()), "{names:?}");
    let missing: Vec<&String> = names.iter().filter(|n| !readme.contains(&format!("| `{n}` |"))).collect();
    assert!(missing.is_empty(), "crates/losscape-cli/README.md has no row for {missing:?}");
    // The reverse: no row for a subcommand that no longer exists.
    for line in readme.lines().filter(|l| l.starts_with("| `")) {
        let name = line.trim_start_matches("| `").split('`').next().unwrap();
        assert!(names.iter().any(|n| n == name), "the README lists `{name}`, which `losscape --help` does not");
    }
}

#[test]
fn the_dataset_help_names_every_source_form() {
    let text = help(&["data", "info", "--help"]);
    for form in ["fashion-mnist-mini", "idx:DIR", "cifar10:DIR", "npz:FILE", "npy:DIR"] {
        assert!(text.contains(form), "`losscape data info --help` does not mention {form}:\n{text}");
    }
    // The parser's own forms agree (each is accepted).
    for source in ["fashion-mnist-mini", "idx:d", "cifar10:d", "npz:f.npz", "npy:d"] {
        assert!(source.parse::<losscape::data::DataSource>().is_ok(), "{source}");
    }
}

#[test]
fn subcommands_are_read_from_help_text() {
    let text = "Usage: x\n\nCommands:\n  data   Inspect\n         more\n  plot   Draw\n  help   Print\n\nOptions:\n  -h\n";
    assert_eq!(subcommands(text), ["data", "plot"]);
}
