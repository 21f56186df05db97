//! `losskit sql`: queries over CSV, NDJSON and Parquet files, the output formats, the errors.
#![cfg(feature = "sql")]

use std::path::Path;
use std::process::Command;

fn losskit(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_losskit"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn ok(args: &[&str]) -> String {
    let (code, out, err) = losskit(args);
    assert_eq!(code, Some(0), "{args:?}: {err}");
    out
}

fn json(args: &[&str]) -> Vec<serde_json::Value> {
    let mut a = vec!["sql", "--json"];
    a.extend(args);
    serde_json::from_str::<serde_json::Value>(&ok(&a))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn fixture(dir: &Path) {
    std::fs::write(
        dir.join("preds.csv"),
        "model,p,y\na,0.5,0.0\na,3.0,0.0\nb,-2.0,0.0\nb,0.25,0.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("logits.json"),
        "{\"logits\": [0.0, 0.0], \"y\": 0}\n{\"logits\": [1000.0, -1000.0], \"y\": 0}\n",
    )
    .unwrap();
}

fn huber(e: f64) -> f64 {
    if e.abs() <= 1.0 {
        0.5 * e * e
    } else {
        e.abs() - 0.5
    }
}

#[test]
fn csv_ndjson_and_parquet_give_the_losses() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let d = dir.path().display().to_string();
    let q = format!(
        "SELECT model, huber(p, y) AS h, huber(p, y, 'delta=2', 'reduction=sum') AS s FROM '{d}/preds.csv' GROUP BY model ORDER BY model"
    );
    let rows = json(&[&q]);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["model"], "a");
    assert_eq!(
        rows[0]["h"].as_f64().unwrap(),
        (huber(0.5) + huber(3.0)) / 2.0
    );
    assert_eq!(
        rows[1]["h"].as_f64().unwrap(),
        (huber(-2.0) + huber(0.25)) / 2.0
    );
    assert_eq!(rows[0]["s"].as_f64().unwrap(), 0.125 + 2.0 * (3.0 - 1.0));

    // Two Parquet files written by the engine, read back through a glob: the same numbers.
    std::fs::create_dir(dir.path().join("pq")).unwrap();
    for (i, m) in ["a", "b"].iter().enumerate() {
        ok(&[
            "sql",
            &format!("COPY (SELECT * FROM '{d}/preds.csv' WHERE model = '{m}') TO '{d}/pq/part{i}.parquet'"),
        ]);
    }
    let q2 = q.replace(&format!("'{d}/preds.csv'"), &format!("'{d}/pq/*.parquet'"));
    assert_eq!(json(&[&q2]), rows);
    for p in ["1", "3"] {
        assert_eq!(json(&["--partitions", p, &q2]), rows);
    }

    // NDJSON with a list column: cross-entropy on logits, stable at ±1000.
    let ce = json(&[&format!(
        "SELECT cross_entropy(logits, y) AS ce, max(cross_entropy_loss(logits, y)) AS worst FROM '{d}/logits.json'"
    )]);
    assert_eq!(ce[0]["ce"].as_f64().unwrap(), std::f64::consts::LN_2 / 2.0);
    assert_eq!(ce[0]["worst"].as_f64().unwrap(), std::f64::consts::LN_2);
}

#[test]
fn table_csv_and_function_listing() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let d = dir.path().display().to_string();
    let q =
        format!("SELECT model, mse(p, y) AS m FROM '{d}/preds.csv' GROUP BY model ORDER BY model");
    let table = ok(&["sql", &q]);
    assert!(table.contains("| model | m"), "{table}");
    assert!(table.contains("| a     | 4.625 "), "{table}");
    let csv = ok(&["sql", "--csv", &q]);
    assert_eq!(csv, "model,m\na,4.625\nb,2.03125\n");
    let empty = ok(&[
        "sql",
        "--json",
        &format!("SELECT p FROM '{d}/preds.csv' WHERE p > 100"),
    ]);
    assert_eq!(empty.trim(), "[]");
    let funcs = ok(&["sql", "--csv", "SELECT routine_name FROM information_schema.routines WHERE routine_name LIKE 'huber%' ORDER BY 1"]);
    assert_eq!(funcs, "routine_name\nhuber\nhuber_loss\n");
}

#[test]
fn errors_are_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let d = dir.path().display().to_string();
    let f = format!("'{d}/preds.csv'");
    for (q, want) in [
        (format!("SELEC huber(p, y) FROM {f}"), "SELEC"),
        (format!("SELECT hubr(p, y) FROM {f}"), "hubr"),
        (format!("SELECT huber(p, model) FROM {f}"), "`target`"),
        (format!("SELECT huber(p, y, -1.0) FROM {f}"), "delta"),
        (format!("SELECT huber(p, y, 'dleta=1') FROM {f}"), "dleta"),
        (format!("SELECT huber(p) FROM {f}"), "huber"),
        (
            "SELECT huber(p, y) FROM 'missing/*.parquet'".to_owned(),
            "missing",
        ),
    ] {
        let (code, out, err) = losskit(&["sql", &q]);
        assert_eq!(code, Some(2), "{q}: {err}");
        assert!(out.is_empty(), "{q}: {out}");
        assert_eq!(err.lines().count(), 1, "{q}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(want),
            "{q}: {err}"
        );
    }
}
