//! `losskit lint` on real code: per-rule precision and recall against hand labels.
//!
//! `lint_corpus/labels.txt` names each corpus file's source (repository, commit, path, licence)
//! and its labels, written by reading the code. The files are third-party code and are not
//! committed; they are read from `$LOSSKIT_LINT_CORPUS` or `tests/lint_corpus/files/` (each is
//! the original file behind a 3-line header). Without them the test says so and checks nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const CORE: [&str; 3] = ["softmax-log-nll", "log-softmax", "bce-on-sigmoid"];
const HEURISTIC: [&str; 3] = [
    "dice-alone",
    "focal-without-imbalance",
    "ce-unweighted-imbalance",
];

/// (file, rule) → labelled lines.
type Labels = BTreeMap<String, BTreeMap<String, BTreeSet<u64>>>;

fn labels(dir: &Path) -> Labels {
    let text = std::fs::read_to_string(dir.join("labels.txt")).unwrap();
    let mut out = Labels::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols.len(), 6, "labels.txt: {line}");
        let entry = out.entry(cols[0].to_string()).or_default();
        if cols[5] == "clean" {
            continue;
        }
        for part in cols[5].split(';') {
            let (rule, lines) = part.split_once('=').expect("rule=lines");
            assert!(CORE.contains(&rule) || HEURISTIC.contains(&rule), "{rule}");
            let set = entry.entry(rule.to_string()).or_default();
            set.extend(lines.split(',').map(|l| l.parse::<u64>().unwrap()));
        }
    }
    out
}

fn corpus_dir(manifest: &Path) -> PathBuf {
    std::env::var_os("LOSSKIT_LINT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("files"))
}

#[test]
fn lint_meets_its_precision_and_recall_targets_on_real_code() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lint_corpus");
    let labels = labels(&manifest);
    assert!(labels.len() >= 60, "{} files labelled", labels.len());
    let dir = corpus_dir(&manifest);
    let missing: Vec<&String> = labels.keys().filter(|f| !dir.join(f).is_file()).collect();
    if missing.len() == labels.len() {
        eprintln!(
            "lint corpus: no corpus file in {} (third-party code, not committed; see \
             tests/lint_corpus/README.md): nothing checked",
            dir.display()
        );
        return;
    }
    assert!(missing.is_empty(), "corpus files missing: {missing:?}");
    let files: Vec<PathBuf> = labels.keys().map(|f| dir.join(f)).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_losskit"))
        .arg("lint")
        .arg("--json")
        .args(&files)
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["errors"].as_array().unwrap().len(), 0, "{json}");
    // (file, rule) → lines found.
    let mut found: BTreeMap<(String, String), BTreeSet<u64>> = BTreeMap::new();
    for f in json["findings"].as_array().unwrap() {
        let file = Path::new(f["file"].as_str().unwrap())
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        found
            .entry((file, f["rule"].as_str().unwrap().to_string()))
            .or_default()
            .insert(f["line"].as_u64().unwrap());
    }
    let mut table = String::from("rule                      TP  FP  FN  precision  recall\n");
    let mut failures = Vec::new();
    let mut misses = Vec::new();
    for rule in CORE.iter().chain(&HEURISTIC) {
        let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
        for (file, rules) in &labels {
            let want = rules.get(*rule).cloned().unwrap_or_default();
            let got = found
                .get(&(file.clone(), rule.to_string()))
                .cloned()
                .unwrap_or_default();
            tp += want.intersection(&got).count();
            for l in got.difference(&want) {
                fp += 1;
                misses.push(format!("false alarm {rule} {file}:{l}"));
            }
            for l in want.difference(&got) {
                fn_ += 1;
                misses.push(format!("missed {rule} {file}:{l}"));
            }
        }
        // No finding at all: no false alarm either (precision 1); nothing labelled: recall 1.
        let precision = if tp + fp == 0 {
            1.0
        } else {
            tp as f64 / (tp + fp) as f64
        };
        let recall = if tp + fn_ == 0 {
            1.0
        } else {
            tp as f64 / (tp + fn_) as f64
        };
        table.push_str(&format!(
            "{rule:<24} {tp:>3} {fp:>3} {fn_:>3}  {precision:>9.2}  {recall:>6.2}\n"
        ));
        if CORE.contains(rule) && (recall < 0.8 || precision < 0.9) {
            failures.push(format!(
                "{rule}: precision {precision:.2} recall {recall:.2}"
            ));
        }
        if HEURISTIC.contains(rule) && precision < 0.8 {
            failures.push(format!("{rule}: precision {precision:.2}"));
        }
    }
    println!("{} files\n{table}", labels.len());
    for m in &misses {
        println!("  {m}");
    }
    assert!(failures.is_empty(), "{failures:?}\n{table}");
}
