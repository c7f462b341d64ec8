//! docs/tutorial-own-model.md runs as written: every `losscape` command of its `sh` blocks, in
//! order, in a folder holding the files its PyTorch step makes (the committed fixtures), and each
//! `text` block after an `sh` block must begin lines of the output of that block's last command
//! (numbers to a relative 1e-3).

use std::path::Path;
use std::process::Command;

/// The fenced blocks of a markdown text: (info string, lines).
fn blocks(markdown: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in markdown.lines() {
        if let Some(info) = line.strip_prefix("```") {
            match current.take() {
                Some(block) => out.push(block),
                None => current = Some((info.trim().to_string(), Vec::new())),
            }
        } else if let Some((_, lines)) = current.as_mut() {
            lines.push(line.to_string());
        }
    }
    out
}

/// Whether `expected`'s whitespace-separated tokens begin `line`'s, numbers within 1e-3.
fn begins(line: &str, expected: &str) -> bool {
    let have: Vec<&str> = line.split_whitespace().collect();
    let want: Vec<&str> = expected.split_whitespace().collect();
    want.len() <= have.len()
        && want.iter().zip(&have).all(|(w, h)| match (w.parse::<f64>(), h.parse::<f64>()) {
            (Ok(w), Ok(h)) => (w - h).abs() <= 1e-3 * w.abs().max(1e-12),
            _ => w == h,
        })
}

#[test]
fn the_tutorial_commands_run_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let markdown = std::fs::read_to_string(root.join("../../docs/tutorial-own-model.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fixtures = root.join("tests/fixtures/own-model");
    for name in ["net.pt", "net2.pt", "data.npz", "weights.safetensors", "mlp.pt", "seq.pt"] {
        std::fs::copy(fixtures.join(name), dir.path().join(name)).unwrap();
    }
    // The tabular and token data sets are folders of .npy files.
    for folder in ["tabular", "tokens"] {
        std::fs::create_dir(dir.path().join(folder)).unwrap();
        for entry in std::fs::read_dir(fixtures.join(folder)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.path().join(folder).join(entry.file_name())).unwrap();
        }
    }
    let mut last_output: Option<String> = None;
    let (mut commands, mut checked) = (0, 0);
    for (info, lines) in blocks(&markdown) {
        match info.as_str() {
            "sh" => {
                for line in lines.iter().filter(|l| !l.trim().is_empty()) {
                    let words: Vec<&str> = line.split_whitespace().collect();
                    assert_eq!(words[0], "losscape", "the tutorial's shell blocks hold losscape commands only: {line}");
                    let out = Command::new(env!("CARGO_BIN_EXE_losscape"))
                        .args(&words[1..])
                        .current_dir(dir.path())
                        .env("OMP_NUM_THREADS", "1")
                        .output()
                        .unwrap();
                    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
                    assert!(out.status.success(), "`{line}` failed:\n{text}");
                    last_output = Some(text);
                    commands += 1;
                }
            }
            "text" => {
                let output = last_output.take().expect("an expected-output block follows a command block");
                for expected in lines.iter().filter(|l| !l.trim().is_empty()) {
                    assert!(
                        output.lines().any(|l| begins(l, expected)),
                        "expected a line beginning `{expected}` in:\n{output}"
                    );
                    checked += 1;
                }
            }
            _ => last_output = None,
        }
    }
    assert!(commands >= 10 && checked >= 6, "{commands} commands, {checked} expected lines");
    for made in ["line.png", "plane.png", "interp.png", "plane.csv", "line-weights.surf", "mlp-plane.png", "seq-line.png"] {
        assert!(dir.path().join(made).is_file(), "{made} was not made");
    }

    // The MLP's numbers are the fixture generator's independent ones: the centre of its plane
    // is the loss at the saved weights, and the tutorial's eigenvalues are the exact Hessian's.
    let reference = std::fs::read_to_string(fixtures.join("mlp-reference.txt")).unwrap();
    let value = |key: &str| -> f64 {
        let line = reference.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("no {key} in the reference"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let plane = losscape::landscape::Surface::load(&dir.path().join("mlp-plane.surf")).unwrap();
    let centre = plane.grid().index(5, 5);
    assert_eq!(plane.grid().point(centre), (0.0, 0.0));
    let values = plane.point_values(centre).unwrap();
    let names = &plane.header().arrays;
    let at = |name: &str| values[names.iter().position(|n| n == name).unwrap()];
    let loss = at("train_loss");
    assert!((loss - value("train_loss")).abs() <= 1e-5 * value("train_loss"), "centre loss {loss} vs {}", value("train_loss"));
    assert!((at("train_acc") - value("train_acc")).abs() < 1e-3, "centre accuracy {}", at("train_acc"));
    for key in ["lambda_max", "lambda_min"] {
        let documented = markdown
            .lines()
            .find_map(|l| l.strip_prefix(key).filter(|_| markdown.contains("112 scalars")).and_then(|r| r.trim().parse::<f64>().ok())
                .filter(|v| (v - value(key)).abs() <= 1e-6 * value(key).abs()));
        assert!(documented.is_some(), "the tutorial does not show {key} = {:e} of mlp-reference.txt", value(key));
    }
}

#[test]
fn expected_lines_match_by_leading_tokens() {
    assert!(begins("lambda_max   7.545941e-1  (Ritz residual 2e-9 relative)", "lambda_max 7.545939e-1"));
    assert!(!begins("lambda_max   7.6e-1", "lambda_max 7.545939e-1"));
    assert!(!begins("lambda_min 1", "lambda_max 1"));
    assert_eq!(blocks("a\n```sh\nx\n```\n```text\ny\n```\n").len(), 2);
}
