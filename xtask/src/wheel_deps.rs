//! The wheels a CUDA libtorch needs, read from wheel metadata (`Requires-Dist` lines with their
//! PEP 508 environment markers), so `cargo xtask setup --cuda` fetches exactly what the torch
//! wheel declares for this platform, offline-testable on the METADATA text.
//!
//! Only native-library wheels are followed: `nvidia-*` and the `cuda-toolkit` meta-package (whose
//! extras, such as `cuda-toolkit[cublas,cudart]`, select `nvidia-*` wheels through
//! `extra == '...'` markers). Python-only requirements (triton, cuda-bindings, sympy, ...) are
//! not needed by libtorch and are skipped.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use anyhow::{bail, Context, Result};

/// A parsed `Requires-Dist` value: `name[extras] specifier ; marker`.
#[derive(Clone, Debug, PartialEq)]
pub struct Requirement {
    /// Normalized name (lower case, runs of `-_.` as one `-`).
    pub name: String,
    pub extras: Vec<String>,
    /// Version specifier as written (`==13.0.2`, `<14,>=13.0.3`, empty for any).
    pub spec: String,
    pub marker: Option<Marker>,
}

impl Requirement {
    /// The requirement as `pip download` takes it: `name[extras]spec`.
    pub fn pip_spec(&self) -> String {
        let extras = if self.extras.is_empty() { String::new() } else { format!("[{}]", self.extras.join(",")) };
        format!("{}{extras}{}", self.name, self.spec)
    }
}

/// A PEP 508 environment marker.
#[derive(Clone, Debug, PartialEq)]
pub enum Marker {
    And(Box<Marker>, Box<Marker>),
    Or(Box<Marker>, Box<Marker>),
    /// `left op right`, each side a variable name or a quoted string (kept as `'text'`).
    Compare(String, String, String),
}

/// The values markers are evaluated against.
#[derive(Clone, Debug)]
pub struct Env {
    pub vars: BTreeMap<String, String>,
    /// The extras requested of the package whose metadata is evaluated.
    pub extras: BTreeSet<String>,
}

impl Env {
    /// Linux on `machine` (`x86_64`, `aarch64`) with CPython `python` (`3.11`).
    pub fn linux(machine: &str, python: &str) -> Self {
        let vars = [
            ("sys_platform", "linux"),
            ("platform_system", "Linux"),
            ("os_name", "posix"),
            ("platform_machine", machine),
            ("python_version", python),
            ("python_full_version", python),
            ("implementation_name", "cpython"),
            ("platform_python_implementation", "CPython"),
        ];
        Env { vars: vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), extras: BTreeSet::new() }
    }

    fn with_extras(&self, extras: &[String]) -> Self {
        Env { vars: self.vars.clone(), extras: extras.iter().map(|e| normalize(e)).collect() }
    }
}

/// Lower case with runs of `-`, `_` and `.` as one `-` (PEP 503), for names and extras.
pub fn normalize(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The `Requires-Dist` values of a METADATA text (header section only).
pub fn requires_dist(metadata: &str) -> Vec<&str> {
    metadata
        .lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.strip_prefix("Requires-Dist:"))
        .map(str::trim)
        .collect()
}

/// Parses one requirement (direct URL references, `name @ url`, are refused).
pub fn parse_requirement(text: &str) -> Result<Requirement> {
    let (req, marker) = match text.split_once(';') {
        Some((r, m)) => (r.trim(), Some(parse_marker(m).with_context(|| format!("in the marker of '{text}'"))?)),
        None => (text.trim(), None),
    };
    if req.contains(" @ ") {
        bail!("'{text}' is a direct URL reference, which setup does not follow");
    }
    let name_end = req.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))).unwrap_or(req.len());
    let name = &req[..name_end];
    if name.is_empty() {
        bail!("'{text}' has no package name");
    }
    let mut rest = req[name_end..].trim();
    let mut extras = Vec::new();
    if let Some(after) = rest.strip_prefix('[') {
        let (list, tail) = after.split_once(']').with_context(|| format!("'{text}' has an unclosed '['"))?;
        extras = list.split(',').map(normalize).filter(|e| !e.is_empty()).collect();
        rest = tail.trim();
    }
    let spec = rest.trim_start_matches('(').trim_end_matches(')').replace(' ', "");
    if !spec.is_empty() && !spec.starts_with(['=', '<', '>', '!', '~']) {
        bail!("'{text}': cannot read the version specifier '{spec}'");
    }
    Ok(Requirement { name: normalize(name), extras, spec, marker })
}

/// Parses a marker expression (`and` binds tighter than `or`; parentheses group).
pub fn parse_marker(text: &str) -> Result<Marker> {
    let tokens = tokenize(text)?;
    let mut pos = 0;
    let marker = parse_or(&tokens, &mut pos)?;
    if pos != tokens.len() {
        bail!("unexpected '{}' in marker '{}'", tokens[pos], text.trim());
    }
    Ok(marker)
}

fn tokenize(text: &str) -> Result<Vec<String>> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' || c == ')' {
            tokens.push(c.to_string());
            i += 1;
        } else if c == '\'' || c == '"' {
            let end = chars[i + 1..].iter().position(|&d| d == c).with_context(|| format!("unclosed quote in marker '{text}'"))?;
            tokens.push(format!("'{}'", chars[i + 1..i + 1 + end].iter().collect::<String>()));
            i += end + 2;
        } else if "=!<>~".contains(c) {
            let start = i;
            while i < chars.len() && "=!<>~".contains(chars[i]) {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.') {
                i += 1;
            }
            if i == start {
                bail!("unexpected '{c}' in marker '{text}'");
            }
            tokens.push(chars[start..i].iter().collect());
        }
    }
    Ok(tokens)
}

fn parse_or(t: &[String], pos: &mut usize) -> Result<Marker> {
    let mut left = parse_and(t, pos)?;
    while t.get(*pos).map(String::as_str) == Some("or") {
        *pos += 1;
        left = Marker::Or(Box::new(left), Box::new(parse_and(t, pos)?));
    }
    Ok(left)
}

fn parse_and(t: &[String], pos: &mut usize) -> Result<Marker> {
    let mut left = parse_atom(t, pos)?;
    while t.get(*pos).map(String::as_str) == Some("and") {
        *pos += 1;
        left = Marker::And(Box::new(left), Box::new(parse_atom(t, pos)?));
    }
    Ok(left)
}

fn parse_atom(t: &[String], pos: &mut usize) -> Result<Marker> {
    if t.get(*pos).map(String::as_str) == Some("(") {
        *pos += 1;
        let inner = parse_or(t, pos)?;
        if t.get(*pos).map(String::as_str) != Some(")") {
            bail!("missing ')' in marker");
        }
        *pos += 1;
        return Ok(inner);
    }
    let left = t.get(*pos).context("marker ends too early")?.clone();
    *pos += 1;
    let mut op = t.get(*pos).context("marker ends after a value")?.clone();
    *pos += 1;
    if op == "not" {
        if t.get(*pos).map(String::as_str) != Some("in") {
            bail!("'not' must be followed by 'in' in a marker");
        }
        *pos += 1;
        op = "not in".into();
    }
    if !["==", "!=", "<", "<=", ">", ">=", "~=", "===", "in", "not in"].contains(&op.as_str()) {
        bail!("unknown marker operator '{op}'");
    }
    let right = t.get(*pos).context("marker ends after an operator")?.clone();
    *pos += 1;
    Ok(Marker::Compare(left, op, right))
}

impl Marker {
    /// Evaluates the marker; an unknown variable is an error (never silently false).
    pub fn eval(&self, env: &Env) -> Result<bool> {
        Ok(match self {
            Marker::And(a, b) => a.eval(env)? && b.eval(env)?,
            Marker::Or(a, b) => a.eval(env)? || b.eval(env)?,
            Marker::Compare(l, op, r) => {
                let is_extra = |s: &str| s == "extra";
                if is_extra(l) || is_extra(r) {
                    let value = normalize(if is_extra(l) { r } else { l }.trim_matches('\''));
                    return match op.as_str() {
                        "==" => Ok(env.extras.contains(&value)),
                        "!=" => Ok(!env.extras.contains(&value)),
                        _ => bail!("unsupported operator '{op}' on extra"),
                    };
                }
                let value = |s: &str| -> Result<String> {
                    if let Some(q) = s.strip_prefix('\'') {
                        return Ok(q.trim_end_matches('\'').to_owned());
                    }
                    env.vars.get(s).cloned().with_context(|| format!("unknown marker variable '{s}'"))
                };
                let (a, b) = (value(l)?, value(r)?);
                let versions = [l, r].iter().any(|s| s.ends_with("_version"));
                match op.as_str() {
                    "==" | "===" => a == b,
                    "!=" => a != b,
                    "in" => b.contains(&a),
                    "not in" => !b.contains(&a),
                    _ if !versions => bail!("operator '{op}' on non-version values '{a}' and '{b}'"),
                    "<" => compare_versions(&a, &b).is_lt(),
                    "<=" => compare_versions(&a, &b).is_le(),
                    ">" => compare_versions(&a, &b).is_gt(),
                    ">=" | "~=" => compare_versions(&a, &b).is_ge(),
                    _ => unreachable!("operators are checked when parsed"),
                }
            }
        })
    }
}

/// Numeric comparison of dotted versions (`3.9` < `3.11`), missing parts as 0.
fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |s: &str| -> Vec<u64> { s.split('.').map(|p| p.trim_matches(|c: char| !c.is_ascii_digit()).parse().unwrap_or(0)).collect() };
    let (a, b) = (parts(a), parts(b));
    (0..a.len().max(b.len())).map(|i| a.get(i).unwrap_or(&0).cmp(b.get(i).unwrap_or(&0))).find(|o| o.is_ne()).unwrap_or(std::cmp::Ordering::Equal)
}

/// Whether setup follows a requirement: native CUDA libraries only.
pub fn is_native(name: &str) -> bool {
    name.starts_with("nvidia-") || name == "cuda-toolkit"
}

/// The native requirements of one package's METADATA that apply in `env` with `extras`.
pub fn native_requirements(metadata: &str, extras: &[String], env: &Env) -> Result<Vec<Requirement>> {
    let env = env.with_extras(extras);
    let mut out = Vec::new();
    for line in requires_dist(metadata) {
        let req = parse_requirement(line)?;
        let applies = match &req.marker {
            Some(m) => m.eval(&env).with_context(|| format!("evaluating '{line}'"))?,
            None => true,
        };
        if applies && is_native(&req.name) {
            out.push(req);
        }
    }
    Ok(out)
}

/// Everything below the root package's METADATA, breadth first: `metadata_of` returns a
/// requirement's own METADATA (in setup, from the wheel `pip download` fetched for it). A package
/// met twice is fetched once, with the union of the extras asked of it; the returned list (one
/// per package, in discovery order) is what to fetch and extract.
pub fn resolve(
    root_metadata: &str,
    env: &Env,
    mut metadata_of: impl FnMut(&Requirement) -> Result<String>,
) -> Result<Vec<Requirement>> {
    let mut order: Vec<Requirement> = Vec::new();
    let mut queue: VecDeque<Requirement> = native_requirements(root_metadata, &[], env)?.into();
    while let Some(req) = queue.pop_front() {
        if let Some(seen) = order.iter_mut().find(|r| r.name == req.name) {
            let new: Vec<String> = req.extras.iter().filter(|e| !seen.extras.contains(e)).cloned().collect();
            if !req.spec.is_empty() && seen.spec.is_empty() {
                seen.spec = req.spec.clone();
            }
            if new.is_empty() {
                continue;
            }
            seen.extras.extend(new);
            let again = seen.clone();
            let meta = metadata_of(&again)?;
            queue.extend(native_requirements(&meta, &again.extras, env)?);
            continue;
        }
        let meta = metadata_of(&req).with_context(|| format!("reading the metadata of {}", req.pip_spec()))?;
        queue.extend(native_requirements(&meta, &req.extras, env)?);
        order.push(req);
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Requires-Dist lines of the torch 2.11.0 manylinux x86_64 wheel, as published.
    const TORCH: &str = "Metadata-Version: 2.4
Name: torch
Version: 2.11.0
Requires-Python: >=3.10
Requires-Dist: filelock
Requires-Dist: typing-extensions>=4.10.0
Requires-Dist: setuptools<82
Requires-Dist: sympy>=1.13.3
Requires-Dist: networkx>=2.5.1
Requires-Dist: jinja2
Requires-Dist: fsspec>=0.8.5
Requires-Dist: cuda-toolkit[cublas,cudart,cufft,cufile,cupti,curand,cusolver,cusparse,nvjitlink,nvrtc,nvtx]==13.0.2; platform_system == \"Linux\"
Requires-Dist: cuda-bindings<14,>=13.0.3; platform_system == \"Linux\"
Requires-Dist: nvidia-cudnn-cu13==9.19.0.56; platform_system == \"Linux\"
Requires-Dist: nvidia-cusparselt-cu13==0.8.0; platform_system == \"Linux\"
Requires-Dist: nvidia-nccl-cu13==2.28.9; platform_system == \"Linux\"
Requires-Dist: nvidia-nvshmem-cu13==3.4.5; platform_system == \"Linux\"
Requires-Dist: triton==3.6.0; platform_system == \"Linux\"
Requires-Dist: optree>=0.13.0; extra == \"optree\"
Requires-Dist: pyyaml; extra == \"pyyaml\"

Requires-Dist: in-the-description==1; this is not a header
";

    /// An excerpt of cuda-toolkit 13.0.2's Requires-Dist lines (the 'all' extra and per-library
    /// extras), as published.
    const CUDA_TOOLKIT: &str = "Name: cuda-toolkit
Version: 13.0.2
Requires-Dist: nvidia-cublas==13.1.0.3.*; (sys_platform == 'linux' or sys_platform == 'win32') and extra == 'all'
Requires-Dist: nvidia-cuda-nvcc==13.0.88.*; (sys_platform == 'linux' or sys_platform == 'win32') and extra == 'all'
Requires-Dist: nvidia-cublas==13.1.0.3.*; (sys_platform == 'linux' or sys_platform == 'win32') and extra == 'cublas'
Requires-Dist: nvidia-cuda-runtime==13.0.96.*; (sys_platform == 'linux' or sys_platform == 'win32') and extra == 'cudart'
Requires-Dist: nvidia-cufile==1.15.1.6.*; (sys_platform == 'linux') and extra == 'cufile'
Requires-Dist: nvidia-cuda-culibos==13.0.85.*; (sys_platform == 'linux') and extra == 'culibos'
Requires-Dist: nvidia-cuda-cupti==13.0.85.*; (sys_platform == 'linux' or sys_platform == 'win32') and extra == 'cupti'
Requires-Dist: nvidia-nvjitlink==13.0.88.*; (sys_platform == 'linux' or sys_platform == 'win32') and extra == 'nvjitlink'
Requires-Dist: nvidia-cuda-nvcc==13.0.88.*; (sys_platform == 'linux' or sys_platform == 'win32') and extra == 'nvcc'
";

    fn env() -> Env {
        Env::linux("x86_64", "3.11")
    }

    #[test]
    fn parses_requirements_with_extras_specifiers_and_markers() {
        let r = parse_requirement("cuda-bindings<14,>=13.0.3; platform_system == \"Linux\"").unwrap();
        assert_eq!((r.name.as_str(), r.spec.as_str()), ("cuda-bindings", "<14,>=13.0.3"));
        assert_eq!(r.marker, Some(Marker::Compare("platform_system".into(), "==".into(), "'Linux'".into())));
        let r = parse_requirement("Cuda_Toolkit[cuBLAS, cudart]==13.0.2").unwrap();
        assert_eq!(r.name, "cuda-toolkit");
        assert_eq!(r.extras, ["cublas", "cudart"]);
        assert_eq!(r.pip_spec(), "cuda-toolkit[cublas,cudart]==13.0.2");
        let r = parse_requirement("filelock").unwrap();
        assert_eq!((r.spec.as_str(), r.marker.is_none()), ("", true));
        assert_eq!(parse_requirement("foo (>=1.0, <2)").unwrap().spec, ">=1.0,<2");
        // A direct reference (name @ location) is not a registry package: refused.
        assert!(parse_requirement("foo @ ./foo.whl").is_err());
        assert!(parse_requirement("foo; platform_system ==").is_err());
        assert!(parse_requirement("foo; (sys_platform == 'linux'").is_err());
        assert!(parse_requirement("foo; os_name <> 'x'").is_err());
        assert!(parse_requirement("[x]==1").is_err());
    }

    #[test]
    fn evaluates_markers_with_precedence_extras_and_versions() {
        let e = env().with_extras(&["cublas".into()]);
        let eval = |m: &str| parse_marker(m).unwrap().eval(&e).unwrap();
        assert!(eval("(sys_platform == 'linux' or sys_platform == 'win32') and extra == 'cublas'"));
        assert!(!eval("(sys_platform == 'linux' or sys_platform == 'win32') and extra == 'all'"));
        // `and` binds tighter than `or`: false and false or true.
        assert!(eval("sys_platform == 'win32' and extra == 'all' or platform_machine == 'x86_64'"));
        assert!(!eval("sys_platform == 'win32' and (extra == 'all' or platform_machine == 'x86_64')"));
        assert!(eval("python_version >= '3.10' and python_version < '3.14'"));
        assert!(!eval("python_version < '3.9'"), "3.11 is not below 3.9 (numeric, not string, order)");
        assert!(eval("'linux' in sys_platform and platform_machine not in 'aarch64 arm64'"));
        assert!(eval("extra != 'nvcc' and extra == \"CuBLAS\""));
        assert!(parse_marker("platform_fancy == 'x'").unwrap().eval(&e).is_err(), "unknown variables are errors");
        assert!(parse_marker("platform_system < 'Linux'").unwrap().eval(&e).is_err());
    }

    #[test]
    fn torch_metadata_gives_the_native_wheels_only() {
        let reqs = native_requirements(TORCH, &[], &env()).unwrap();
        let names: Vec<String> = reqs.iter().map(Requirement::pip_spec).collect();
        assert_eq!(
            names,
            [
                "cuda-toolkit[cublas,cudart,cufft,cufile,cupti,curand,cusolver,cusparse,nvjitlink,nvrtc,nvtx]==13.0.2",
                "nvidia-cudnn-cu13==9.19.0.56",
                "nvidia-cusparselt-cu13==0.8.0",
                "nvidia-nccl-cu13==2.28.9",
                "nvidia-nvshmem-cu13==3.4.5",
            ]
        );
        // On another platform the Linux-only wheels drop out.
        let mut mac = env();
        mac.vars.insert("platform_system".into(), "Darwin".into());
        assert!(native_requirements(TORCH, &[], &mac).unwrap().is_empty());
    }

    #[test]
    fn resolves_through_the_toolkit_extras_once_per_package() {
        let mut fetched = Vec::new();
        let reqs = resolve(TORCH, &env(), |r| {
            fetched.push(r.name.clone());
            Ok(match r.name.as_str() {
                "cuda-toolkit" => CUDA_TOOLKIT.to_owned(),
                // cuDNN asks for cuBLAS again, unpinned: fetched once, the toolkit's pin kept.
                "nvidia-cudnn-cu13" => "Name: nvidia-cudnn-cu13\nRequires-Dist: nvidia-cublas\n".to_owned(),
                _ => format!("Name: {}\n", r.name),
            })
        })
        .unwrap();
        let specs: Vec<String> = reqs.iter().map(Requirement::pip_spec).collect();
        assert_eq!(
            specs[1..],
            [
                "nvidia-cudnn-cu13==9.19.0.56",
                "nvidia-cusparselt-cu13==0.8.0",
                "nvidia-nccl-cu13==2.28.9",
                "nvidia-nvshmem-cu13==3.4.5",
                "nvidia-cublas==13.1.0.3.*",
                "nvidia-cuda-runtime==13.0.96.*",
                "nvidia-cufile==1.15.1.6.*",
                "nvidia-cuda-cupti==13.0.85.*",
                "nvidia-nvjitlink==13.0.88.*",
            ]
        );
        // The compiler (extra 'nvcc', 'all') is not asked for; each package is read once.
        assert!(!specs.iter().any(|s| s.contains("nvcc") || s.contains("culibos")));
        let mut unique = fetched.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), fetched.len(), "{fetched:?}");
        assert_eq!(fetched.len(), reqs.len());
    }
}
