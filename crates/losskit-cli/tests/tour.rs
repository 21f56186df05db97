//! `losskit tour` end to end: one `--quick --json --report` run shared by the tests; the JSON's
//! structure and ranges, determinism, `--only`, and the HTML report rendered by headless
//! Chromium (required in CI; skipped with a message elsewhere when Chromium is missing).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use tempfile::TempDir;

fn losskit(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_losskit"))
        .args(args)
        .output()
        .expect("the losskit binary runs")
}

/// The shared quick run: its JSON and the report's directory.
fn quick() -> &'static (Value, TempDir) {
    static RUN: OnceLock<(Value, TempDir)> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = TempDir::new().unwrap();
        let out = losskit(&[
            "tour",
            "--quick",
            "--json",
            "--report",
            dir.path().to_str().unwrap(),
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON object");
        (json, dir)
    })
}

/// Whether `name` is in this build's catalogue.
fn known(name: &str) -> bool {
    losskit::find(name).is_ok()
}

#[test]
fn quick_json_has_every_experiment_with_finite_metrics_in_range() {
    let (json, _) = quick();
    assert_eq!(json["tool"], "losskit tour");
    assert_eq!(json["quick"], true);
    assert_eq!(json["seed"], 42);
    let experiments = json["experiments"].as_array().unwrap();
    let ids: Vec<u64> = experiments
        .iter()
        .map(|e| e["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6, 7]);
    for e in experiments {
        let id = &e["id"];
        if e["status"] == "unavailable" {
            // Only allowed while a loss it needs is missing from the catalogue.
            let reason = e["reason"].as_str().unwrap();
            let name = reason.split('`').nth(1).unwrap_or("");
            assert!(
                !name.is_empty() && !known(name),
                "experiment {id} unavailable: {reason}"
            );
            continue;
        }
        assert_eq!(e["status"], "ok", "{id}");
        for key in ["key", "title", "setup", "verdict"] {
            assert!(
                !e[key].as_str().unwrap().is_empty(),
                "experiment {id}: empty {key}"
            );
        }
        let metrics = e["metrics"].as_array().unwrap();
        assert!(!metrics.is_empty());
        let rows = e["rows"].as_array().unwrap();
        assert!(
            rows.len() >= 2,
            "experiment {id}: a comparison needs two rows"
        );
        assert!(
            rows.iter().any(|r| r["recommended"] == true),
            "experiment {id}: no recommended row"
        );
        for r in rows {
            for l in r["losses"].as_array().unwrap() {
                assert!(
                    known(l.as_str().unwrap()),
                    "experiment {id}: unknown loss {l}"
                );
            }
            assert!(!r["optimiser"].as_str().unwrap().is_empty());
            let values = r["metrics"].as_object().unwrap();
            assert_eq!(
                values.len(),
                metrics.len(),
                "experiment {id} row {}",
                r["label"]
            );
            for m in metrics {
                let key = m["key"].as_str().unwrap();
                let v = values[key]
                    .as_f64()
                    .unwrap_or_else(|| panic!("experiment {id} {key}: {}", values[key]));
                assert!(v.is_finite());
                let lo = m["min"].as_f64().unwrap_or(f64::NEG_INFINITY);
                let hi = m["max"].as_f64().unwrap_or(f64::INFINITY);
                assert!(
                    (lo..=hi).contains(&v),
                    "experiment {id} {} {key} = {v} outside [{lo}, {hi}]",
                    r["label"]
                );
                assert!(["higher", "lower", "near"].contains(&m["better"].as_str().unwrap()));
            }
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_numbers_and_only_selects() {
    let run = |seed: &str| {
        let out = losskit(&["tour", "--quick", "--json", "--only", "2,1", "--seed", seed]);
        assert_eq!(out.status.code(), Some(0));
        let mut v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_object_mut().unwrap().remove("seconds");
        v
    };
    let (a, b, c) = (run("7"), run("7"), run("8"));
    let ids: Vec<u64> = a["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [1, 2], "experiments run in id order");
    assert_eq!(a, b);
    assert_ne!(a["experiments"][0]["rows"], c["experiments"][0]["rows"]);
}

#[test]
fn an_unknown_experiment_is_an_error() {
    let out = losskit(&["tour", "--only", "9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: no experiment 9: the ids are 1 to 7\n"
    );
}

#[test]
fn the_text_output_marks_recommendations_and_verdicts() {
    let out = losskit(&["tour", "--quick", "--only", "4"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("4. Label noise and overconfidence"), "{text}");
    assert!(
        text.contains("* cross_entropy, label_smoothing=0.1"),
        "{text}"
    );
    assert!(text.contains("verdict: "), "{text}");
}

/// The first Chromium-like browser on PATH.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|b| std::env::split_paths(&path).map(move |d| d.join(b)))
        .find(|p| p.is_file())
}

/// Appended to a copy of the report: measures what the browser laid out and records it in
/// an attribute that `--dump-dom` shows.
const PROBE: &str = r#"<script>
const tables = [...document.querySelectorAll('table.metrics')].map(t => [t.rows.length, Math.round(t.getBoundingClientRect().width)]);
const svgs = [...document.querySelectorAll('figure svg')].map(s => {
  const b = s.getBoundingClientRect();
  return [Math.round(b.width), Math.round(b.height), s.querySelectorAll('path,polyline,circle,rect,line,text').length];
});
document.body.setAttribute('data-probe', JSON.stringify({tables, svgs}));
</script>"#;

#[test]
fn the_report_renders_in_headless_chromium() {
    let (json, dir) = quick();
    let Some(browser) = chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!("CI: chromium is not installed (.ci/run installs it with apt-get)");
        }
        eprintln!("skipped: no chromium on PATH (install the distribution's `chromium` package)");
        return;
    };
    let report = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    // Self-contained: no script, stylesheet, image or font fetched from anywhere.
    for external in ["<script", "<link", "src=", "url(", "@import", "<img"] {
        assert!(
            !report.contains(external),
            "the report contains `{external}`"
        );
    }
    let probe = dir.path().join("probe.html");
    std::fs::write(
        &probe,
        report.replace("</body>", &format!("{PROBE}</body>")),
    )
    .unwrap();
    let profile = TempDir::new().unwrap();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            &format!("--user-data-dir={}", profile.path().display()),
            "--dump-dom",
            &format!("file://{}", probe.display()),
        ])
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let attr = dom
        .split("data-probe=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no probe in the DOM: {dom:.2000}"));
    let probe: Value = serde_json::from_str(&attr.replace("&quot;", "\"")).unwrap();
    let experiments: Vec<&Value> = json["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "ok")
        .collect();
    let tables = probe["tables"].as_array().unwrap();
    assert_eq!(tables.len(), experiments.len());
    for (t, e) in tables.iter().zip(&experiments) {
        assert_eq!(
            t[0].as_u64().unwrap() as usize,
            e["rows"].as_array().unwrap().len() + 1,
            "header + rows"
        );
        assert!(t[1].as_f64().unwrap() > 200.0, "table laid out: {t}");
    }
    let svgs = probe["svgs"].as_array().unwrap();
    assert!(
        svgs.len() >= experiments.len(),
        "at least one figure per experiment: {svgs:?}"
    );
    for s in svgs {
        assert!(
            s[0].as_f64().unwrap() > 100.0 && s[1].as_f64().unwrap() > 50.0,
            "figure laid out: {s}"
        );
        assert!(s[2].as_u64().unwrap() > 5, "figure has drawn elements: {s}");
    }
    let _ = Path::new(".");
}
