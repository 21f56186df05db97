//! `recommend`, `lint`, `plot` and `gradcheck` end to end: the built binary on sample files.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use npyz::{DType, Order, TypeStr, WriterBuilder};
use serde_json::Value;
use tempfile::TempDir;

#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn losskit(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_losskit"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the losskit binary runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn save<T: npyz::Serialize + Copy>(dir: &Path, name: &str, descr: &str, dims: &[u64], data: &[T]) {
    let ty: TypeStr = descr.parse().unwrap();
    let file = fs::File::create(dir.join(name)).unwrap();
    let mut w = npyz::WriteOptions::<T>::new()
        .dtype(DType::Plain(ty))
        .order(Order::C)
        .shape(dims)
        .writer(std::io::BufWriter::new(file))
        .begin_nd()
        .unwrap();
    w.extend(data.iter().copied()).unwrap();
    w.finish().unwrap();
}

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lint")
}

// ---------------------------------------------------------------------------------------------
// lint

#[test]
fn lint_finds_each_mistake_in_both_languages_and_nothing_in_correct_code() {
    let dir = samples();
    let mut rules_seen = std::collections::BTreeSet::new();
    for lang in ["python", "rust"] {
        for entry in fs::read_dir(dir.join(lang)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            let rule = name.split('.').next().unwrap().to_string();
            let run = losskit(&dir, &["lint", "--json", path.to_str().unwrap()]);
            if name.contains(".broken.") {
                continue;
            }
            let json: Value =
                serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{name}: {e} {run:?}"));
            let findings = json["findings"].as_array().unwrap();
            if name.contains(".bad.") {
                assert_eq!(run.code, Some(1), "{name}: {run:?}");
                assert!(!findings.is_empty(), "{name}");
                for f in findings {
                    assert_eq!(f["rule"], rule.as_str(), "{name}: {f}");
                    assert!(f["line"].as_u64().unwrap() >= 1 && f["column"].as_u64().unwrap() >= 1);
                    assert!(!f["fix"].as_str().unwrap().is_empty());
                }
                rules_seen.insert(format!("{lang}:{rule}"));
            } else {
                assert_eq!(run.code, Some(0), "{name}: {run:?}");
                assert!(findings.is_empty(), "{name}: {findings:?}");
            }
        }
    }
    assert_eq!(rules_seen.len(), 12, "{rules_seen:?}");
}

#[test]
fn lint_text_names_file_line_col_rule_why_and_fix() {
    let run = losskit(&samples(), &["lint", "python/softmax-log-nll.bad.py"]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stdout.starts_with("python/softmax-log-nll.bad.py:8:12: softmax-log-nll: softmax, then log, then nll_loss by hand"),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains("    fix: F.cross_entropy(logits, target)"));
}

#[test]
fn an_unparsable_file_is_reported_and_the_others_still_checked() {
    let run = losskit(
        &samples(),
        &[
            "lint",
            "python/unparsable.broken.py",
            "python/log-softmax.bad.py",
            "rust/unparsable.broken.rs",
        ],
    );
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stdout
            .contains("python/log-softmax.bad.py:5:12: log-softmax"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("python/unparsable.broken.py: cannot parse: syntax error at 1:"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("rust/unparsable.broken.rs: cannot parse"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .ends_with("error: lint: 2 path(s) could not be checked\n"),
        "{run:?}"
    );
    let tmp = TempDir::new().unwrap();
    fs::write(tmp.path().join("notes.txt"), "x").unwrap();
    let run = losskit(tmp.path(), &["lint", "notes.txt", "missing.py"]);
    assert_eq!(run.code, Some(2));
    assert!(run
        .stderr
        .contains("notes.txt: not a Python (.py) or Rust (.rs) file"));
    assert!(run.stderr.contains("missing.py: no such file or directory"));
    // A directory: every sample checked, findings and errors together.
    let run = losskit(&samples(), &["lint", "."]);
    assert_eq!(run.code, Some(2));
}

// ---------------------------------------------------------------------------------------------
// plot

const CURVE: &str = "stroke-width=\"2\" points=\"";

fn count(s: &str, pat: &str) -> usize {
    s.matches(pat).count()
}

#[test]
fn plot_writes_svg_with_one_curve_per_spec_and_a_legend() {
    let tmp = TempDir::new().unwrap();
    let run = losskit(
        tmp.path(),
        &[
            "plot",
            "huber:delta=0.5",
            "huber:delta=2",
            "mse",
            "mae",
            "--grad",
            "--out",
            "r.svg",
        ],
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    let svg = fs::read_to_string(tmp.path().join("r.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    // Four curves in each of the two panels (loss, gradient): the 2-px polylines (axes and
    // ticks are 1 px).
    assert_eq!(count(&svg, CURVE), 8);
    for label in [
        "huber:delta=0.5",
        "huber:delta=2",
        "mse",
        "mae",
        "residual e = input − target",
        "d loss / d prediction",
    ] {
        assert!(svg.contains(label), "{label}");
    }
    let run = losskit(
        tmp.path(),
        &[
            "plot",
            "focal:gamma=0",
            "focal:gamma=2",
            "focal:gamma=5",
            "--out",
            "f.svg",
        ],
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    let svg = fs::read_to_string(tmp.path().join("f.svg")).unwrap();
    assert_eq!(count(&svg, CURVE), 3);
    assert!(svg.contains("margin y·z"));
}

#[test]
fn plot_writes_a_well_formed_png_without_system_fonts() {
    let tmp = TempDir::new().unwrap();
    let run = losskit(
        tmp.path(),
        &[
            "plot",
            "hinge",
            "soft_margin",
            "bce_with_logits",
            "--out",
            "m.png",
        ],
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    let png = fs::read(tmp.path().join("m.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[12..16], b"IHDR");
    let (w, h) = (
        u32::from_be_bytes(png[16..20].try_into().unwrap()),
        u32::from_be_bytes(png[20..24].try_into().unwrap()),
    );
    assert_eq!((w, h), (1280, 760));
    assert_eq!(&png[png.len() - 8..png.len() - 4], b"IEND");
    assert!(png.len() > 10_000);
}

#[test]
fn plot_previews_in_the_terminal_and_rejects_bad_specs() {
    let tmp = TempDir::new().unwrap();
    let run = losskit(tmp.path(), &["plot", "mse", "mae", "--grad"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.contains("  * mse\n  + mae\n") && run.stdout.contains("d loss / d prediction")
    );
    for (args, msg) in [
        (
            &["plot", "hubr"][..],
            "unknown loss `hubr`; did you mean `huber`?",
        ),
        (
            &["plot", "huber:gamma=2"],
            "huber: unknown parameter `gamma`",
        ),
        (&["plot", "huber:delta"], "is not KEY=VALUE"),
        (&["plot", "huber", "focal"], "plot them separately"),
        (
            &["plot", "mse", "--out", "x.jpg"],
            "must end in .svg or .png",
        ),
    ] {
        let run = losskit(tmp.path(), args);
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
        assert!(run.stderr.contains(msg), "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, "");
    }
}

// ---------------------------------------------------------------------------------------------
// gradcheck

#[test]
fn gradcheck_passes_for_the_whole_catalogue() {
    let tmp = TempDir::new().unwrap();
    let run = losskit(tmp.path(), &["gradcheck", "--all", "--json"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), losskit::catalogue().count());
    assert!(lines.iter().all(|l| l["passed"] == true));
}

#[test]
fn gradcheck_exits_1_above_the_tolerance_and_takes_given_arrays() {
    let tmp = TempDir::new().unwrap();
    // No Hessian is exact to 1e-300 against differences of the gradient: the check must fail
    // rather than pass vacuously, with exit status 1.
    let run = losskit(
        tmp.path(),
        &["gradcheck", "log_cosh", "--hessian", "--tol", "1e-300"],
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.starts_with("FAIL log_cosh"), "{}", run.stdout);
    // The gradient check judges a difference within the central difference's own error
    // (round-off and truncation, see `--help`) as a pass at any `--tol`, but it still checks.
    let run = losskit(tmp.path(), &["gradcheck", "log_cosh", "--tol", "1e-300"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("48 checked"), "{}", run.stdout);
    save(tmp.path(), "x.npy", "<f8", &[3], &[0.5f64, -2.0, 3.0]);
    save(tmp.path(), "y.npy", "<f8", &[3], &[0.0f64, 0.0, 1.0]);
    let run = losskit(
        tmp.path(),
        &[
            "gradcheck",
            "huber",
            "--param",
            "delta=0.7",
            "--input",
            "input=x.npy",
            "--input",
            "target=y.npy",
        ],
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.starts_with("ok   huber"), "{}", run.stdout);
    let run = losskit(tmp.path(), &["gradcheck", "nope"]);
    assert_eq!(run.code, Some(2));
}

// ---------------------------------------------------------------------------------------------
// recommend

#[test]
fn recommend_answers_the_brief_rows_with_parameters_and_snippets() {
    let tmp = TempDir::new().unwrap();
    let run = losskit(
        tmp.path(),
        &["recommend", "multiclass", "--imbalance", "50"],
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.contains("cross_entropy (label_smoothing=0.1)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("softmax_focal") && run.stdout.contains("pub fn run()"));
    let run = losskit(
        tmp.path(),
        &["recommend", "segmentation", "--small-objects", "--json"],
    );
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["primary"][0]["loss"], "tversky");
    assert_eq!(json["primary"][0]["params"]["beta"], "0.7");
    assert!(json["primary"][0]["reference"]
        .as_str()
        .unwrap()
        .contains("Salehi"));
    let run = losskit(tmp.path(), &["recommend", "detection", "--json"]);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["primary"][1]["loss"], "giou");
}

#[test]
fn recommend_measures_label_and_target_files() {
    let tmp = TempDir::new().unwrap();
    let mut y = vec![0i64; 900];
    y.extend([1; 90]);
    y.extend([2; 10]);
    save(tmp.path(), "y.npy", "<i8", &[1000], &y);
    let run = losskit(
        tmp.path(),
        &[
            "recommend",
            "multiclass",
            "--labels",
            "y.npy",
            "--weights-out",
            "w.npy",
            "--json",
        ],
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    let w = &json["primary"][0]["weights"];
    assert_eq!(w["input"], "weight");
    assert_eq!(w["file"], "w.npy");
    assert_eq!(w["values"].as_array().unwrap().len(), 3);
    assert!(json["measured"][0]
        .as_str()
        .unwrap()
        .contains("imbalance 90"));
    assert!(tmp.path().join("w.npy").exists());
    // Binary labels: pos_weight = negatives / positives.
    save(
        tmp.path(),
        "b.npy",
        "<f4",
        &[5],
        &[0.0f32, 0.0, 0.0, 0.0, 1.0],
    );
    let run = losskit(tmp.path(), &["recommend", "binary", "--labels", "b.npy"]);
    assert!(
        run.stdout.contains("pos_weight = [4.0000]"),
        "{}",
        run.stdout
    );
    // Targets: Gaussian bulk with gross errors → Huber with a measured δ.
    let t: Vec<f64> = (0..400)
        .map(|i| {
            if i % 25 == 0 {
                100.0
            } else {
                ((i * 7919) % 1000) as f64 / 500.0 - 1.0
            }
        })
        .collect();
    save(tmp.path(), "t.npy", "<f8", &[400], &t);
    let run = losskit(
        tmp.path(),
        &["recommend", "regression", "--targets", "t.npy", "--json"],
    );
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["primary"][0]["loss"], "huber");
    let delta: f64 = json["primary"][0]["params"]["delta"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(delta > 0.5 && delta < 2.0, "{delta}");
}

#[test]
fn recommend_rejects_bad_input_with_exit_2() {
    let tmp = TempDir::new().unwrap();
    save(tmp.path(), "neg.npy", "<i8", &[3], &[0i64, -1, 2]);
    save(tmp.path(), "frac.npy", "<f4", &[2], &[0.0f32, 0.5]);
    for (args, msg) in [
        (
            &["recommend", "classification"][..],
            "unknown task `classification`",
        ),
        (
            &["recommend", "regression", "--gaussian", "--outliers"],
            "`--gaussian` contradicts `--outliers`",
        ),
        (
            &["recommend", "regression", "--small-objects"],
            "does not apply to task `regression`",
        ),
        (
            &["recommend", "multiclass", "--labels", "neg.npy"],
            "`labels` at [1] is -1",
        ),
        (
            &["recommend", "multiclass", "--labels", "frac.npy"],
            "`labels` at [1] is 0.5",
        ),
        (
            &["recommend", "binary", "--imbalance", "0.5"],
            "`imbalance` must be >= 1",
        ),
        (
            &["recommend", "multiclass", "--bogus"],
            "unexpected argument '--bogus'",
        ),
    ] {
        let run = losskit(tmp.path(), args);
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
        assert!(run.stderr.contains(msg), "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, "");
    }
}

// ---------------------------------------------------------------------------------------------
// lint: paths that are not regular files (issue 21, item 7)

#[cfg(unix)]
#[test]
fn lint_skips_devices_and_fifos_promptly_with_a_message() {
    let tmp = TempDir::new().unwrap();
    std::os::unix::fs::symlink("/dev/zero", tmp.path().join("zero.py")).unwrap();
    let fifo = tmp.path().join("x.py");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    fs::write(tmp.path().join("ok.py"), "import torch\n").unwrap();
    let started = std::time::Instant::now();
    // Each path named, then the directory walked: neither read nor opened.
    for args in [
        &["lint", "zero.py", "x.py", "ok.py"][..],
        &["lint", "."][..],
    ] {
        let run = losskit(tmp.path(), args);
        assert_eq!(run.code, Some(2), "{run:?}");
        assert!(
            run.stderr
                .contains("zero.py: not a regular file (a device, FIFO or socket): skipped"),
            "{run:?}"
        );
        assert!(
            run.stderr
                .contains("x.py: not a regular file (a device, FIFO or socket): skipped"),
            "{run:?}"
        );
        assert!(
            run.stdout.contains("0 finding(s) in 1 file(s) checked"),
            "{run:?}"
        );
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn lint_on_only_missing_paths_prints_no_summary_that_reads_as_clean() {
    let tmp = TempDir::new().unwrap();
    let run = losskit(tmp.path(), &["lint", "missing.py"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(run.stdout, "", "{run:?}");
    assert!(run.stderr.contains("missing.py"), "{run:?}");
    assert!(
        run.stderr.contains("1 path(s) could not be checked"),
        "{run:?}"
    );
    // One readable file beside the missing one: its result is reported.
    fs::write(tmp.path().join("ok.py"), "import torch\n").unwrap();
    let run = losskit(tmp.path(), &["lint", "missing.py", "ok.py"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(run.stdout, "0 finding(s) in 1 file(s) checked\n", "{run:?}");
}

#[test]
fn lint_refuses_a_source_file_above_its_size_bound() {
    let tmp = TempDir::new().unwrap();
    let big = "x = 1\n".repeat((16 << 20) / 6 + 1);
    fs::write(tmp.path().join("big.py"), big).unwrap();
    let run = losskit(tmp.path(), &["lint", "big.py"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr.contains("big.py: larger than 16 MiB: skipped"),
        "{run:?}"
    );
}
