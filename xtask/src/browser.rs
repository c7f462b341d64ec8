//! The figure page's browser test: headless Chromium (Debian's `chromium`) loads index.html from
//! `file://` with no network and the test checks that every file the page links exists, that
//! the page loads with no console or script errors, that every image decodes, that every 3D view
//! draws (its canvas has painted pixels, read by the page's own self-check into `data-check`),
//! and that a screenshot of the page is not blank. It proves it can fail by running the same
//! checks on a damaged copy of the page (a missing image, a script error), which must fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The Chromium binary on the PATH, if any.
pub fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser", "google-chrome"].map(|n| dir.join(n)))
        .find(|p| p.is_file())
}

/// What the page and the browser reported.
#[derive(Debug, Default)]
pub struct Outcome {
    pub images: usize,
    pub views: usize,
    pub problems: Vec<String>,
    pub painted_fraction: f64,
}

/// Files the page links (`src` and `href` values that are neither anchors nor URLs with a
/// scheme), and any reference to the network.
fn static_check(dir: &Path, html: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            let target = part.split('"').next().unwrap_or("");
            if target.is_empty() || target.starts_with('#') {
                continue;
            }
            if target.contains("://") {
                problems.push(format!("the page links {target}: it must work without a network"));
                continue;
            }
            let file = target.split(['#', '?']).next().unwrap_or(target);
            if !dir.join(file).is_file() {
                problems.push(format!("the page links {file}, which does not exist"));
            }
        }
    }
    problems
}

/// Runs Chromium headless with a throw-away profile; returns (stdout, stderr).
fn chromium(bin: &Path, profile: &Path, args: &[String]) -> Result<(String, String)> {
    let out = Command::new(bin)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--enable-logging=stderr", "--v=0"])
        .args(args)
        .output()
        .with_context(|| format!("could not run {}", bin.display()))?;
    Ok((String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned()))
}

/// The fraction of a PNG's pixels that are not near-white.
fn painted_fraction(png_path: &Path) -> Result<f64> {
    let decoder = png::Decoder::new(std::fs::File::open(png_path)?);
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf)?;
    let channels = info.color_type.samples();
    if info.bit_depth != png::BitDepth::Eight || channels < 3 {
        bail!("{}: unexpected PNG layout {:?} {:?}", png_path.display(), info.color_type, info.bit_depth);
    }
    let pixels = &buf[..info.buffer_size()];
    let total = pixels.len() / channels;
    let painted = pixels.chunks(channels).filter(|p| p[0] < 235 || p[1] < 235 || p[2] < 235).count();
    Ok(painted as f64 / total.max(1) as f64)
}

/// Loads `dir/index.html` in Chromium and checks it (see the module docs). The screenshot is
/// written to `screenshot`.
pub fn check_page(bin: &Path, dir: &Path, screenshot: &Path) -> Result<Outcome> {
    let index = dir.join("index.html");
    let html = std::fs::read_to_string(&index).with_context(|| format!("reading {}", index.display()))?;
    let mut outcome = Outcome { problems: static_check(dir, &html), ..Outcome::default() };
    let url = format!("file://{}", index.canonicalize()?.display());
    let profile = tempfile_dir("losscape-chromium")?;

    let (dom, log) = chromium(bin, &profile, &["--virtual-time-budget=10000".into(), "--dump-dom".into(), url.clone()])?;
    for line in log.lines().filter(|l| l.contains("CONSOLE")) {
        if line.contains("Uncaught") || line.contains(":ERROR:CONSOLE") || line.contains("Error") {
            outcome.problems.push(format!("console: {}", line.trim()));
        }
    }
    let check = dom
        .split("data-check=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(|c| c.replace("&quot;", "\"").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"));
    match check {
        None => outcome.problems.push("the page's self-check did not run (no data-check on <body>)".into()),
        Some(text) => {
            let v: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("the page's self-check: {text}"))?;
            outcome.images = v["images"].as_u64().unwrap_or(0) as usize;
            outcome.views = v["views"].as_u64().unwrap_or(0) as usize;
            for (key, what) in [("broken", "image does not load"), ("blank", "3D view drew nothing"), ("errors", "script error")] {
                for item in v[key].as_array().into_iter().flatten() {
                    outcome.problems.push(format!("{what}: {}", item.as_str().unwrap_or_default()));
                }
            }
        }
    }

    let _ = std::fs::remove_file(screenshot);
    chromium(bin, &profile, &["--window-size=1300,3200".into(), format!("--screenshot={}", screenshot.display()), url])?;
    if !screenshot.is_file() {
        outcome.problems.push("Chromium wrote no screenshot".into());
    } else {
        outcome.painted_fraction = painted_fraction(screenshot)?;
        if outcome.painted_fraction < 0.05 {
            outcome.problems.push(format!("the screenshot is blank ({:.1}% of its pixels painted)", 100.0 * outcome.painted_fraction));
        }
    }
    let _ = std::fs::remove_dir_all(&profile);
    Ok(outcome)
}

/// A fresh temporary folder.
fn tempfile_dir(prefix: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{}", std::process::id(), std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The whole test: the page in `dir` must pass every check, with at least `min_views` 3D views,
/// and a damaged copy (one image removed, a script error added) must fail them. `screenshot`
/// keeps the good page's screenshot. Without Chromium the test is skipped with a note, except
/// in CI (`CI=true`), where that fails (`.ci/run` installs it).
pub fn test(dir: &Path, min_views: usize, screenshot: &Path) -> Result<()> {
    let Some(bin) = find_chromium() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            bail!("CI=true but chromium is not on the PATH, so the figure page's browser test cannot run: install Debian's chromium (.ci/run does)");
        }
        eprintln!("xtask: chromium not found: skipping the figure page's browser test (apt-get install chromium to run it)");
        return Ok(());
    };
    let good = check_page(&bin, dir, screenshot)?;
    if !good.problems.is_empty() {
        bail!("{}/index.html failed the browser test:\n  {}", dir.display(), good.problems.join("\n  "));
    }
    if good.views < min_views || good.images == 0 {
        bail!("{}/index.html shows {} images and {} 3D views; expected images and at least {min_views} views", dir.display(), good.images, good.views);
    }
    eprintln!(
        "xtask: browser test of {}/index.html: {} images load, {} 3D views drawn, no errors; screenshot {} ({:.0}% painted)",
        dir.display(),
        good.images,
        good.views,
        screenshot.display(),
        100.0 * good.painted_fraction
    );

    // The checks must be able to fail: a copy with one image gone and a script error.
    let copy = tempfile_dir("losscape-page-damaged")?;
    copy_dir(dir, &copy)?;
    let html = std::fs::read_to_string(copy.join("index.html"))?;
    let first_img = html.split("<img src=\"").nth(1).and_then(|r| r.split('"').next()).context("the page has no image")?.to_owned();
    std::fs::remove_file(copy.join(&first_img))?;
    std::fs::write(copy.join("index.html"), html.replace("</body>", "<script>undefinedFunctionOfTheTest();</script></body>"))?;
    let bad = check_page(&bin, &copy, &copy.join("shot.png"))?;
    let _ = std::fs::remove_dir_all(&copy);
    let missing = bad.problems.iter().any(|p| p.contains(&first_img));
    let error = bad.problems.iter().any(|p| p.contains("undefinedFunctionOfTheTest"));
    if !(missing && error) {
        bail!("the browser test did not notice a damaged page (missing image noticed: {missing}, script error noticed: {error}): {:?}", bad.problems);
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
