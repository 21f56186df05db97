//! `losskit bench` end to end: every catalogue loss runs, the JSON carries every field, and
//! bad arguments are errors with exit status 2.

use std::process::Command;

use serde_json::Value;

fn bench(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_losskit"))
        .arg("bench")
        .args(args)
        .output()
        .expect("the losskit binary runs");
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn every_catalogue_loss_can_be_timed_in_both_modes() {
    for info in losskit::catalogue() {
        for mode in [&[][..], &["--value-only"][..]] {
            let mut args = vec![
                info.name,
                "--size",
                "300",
                "--repeats",
                "2",
                "--warmup",
                "1",
            ];
            args.extend_from_slice(mode);
            args.push("--json");
            let (code, out, err) = bench(&args);
            assert_eq!(code, Some(0), "{}: {err}", info.name);
            let v: Value = serde_json::from_str(&out).unwrap();
            assert_eq!(v["loss"], info.name);
            assert_eq!(v["runs"], 2);
            let (median, min) = (
                v["median_s"].as_f64().unwrap(),
                v["min_s"].as_f64().unwrap(),
            );
            assert!(min > 0.0 && min <= median, "{}: {v}", info.name);
            assert!(v["elements"].as_u64().unwrap() > 0, "{}", info.name);
            assert!(v["gb_per_s"].as_f64().unwrap() > 0.0);
        }
    }
}

#[test]
fn triad_shape_threads_dtype_and_params() {
    let (code, out, err) = bench(&[
        "cross_entropy",
        "--shape",
        "64,30",
        "--param",
        "label_smoothing=0.1",
        "--threads",
        "2",
        "--dtype",
        "f64",
        "--repeats",
        "3",
        "--triad",
        "--json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["dtype"], "f64");
    assert_eq!(v["threads"], 2);
    assert_eq!(v["elements"], 64 * 30);
    assert_eq!(v["mode"], "value_and_grad");
    let shapes: Vec<&str> = v["shapes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(shapes.contains(&"input=[64, 30]"), "{shapes:?}");
    assert!(shapes.contains(&"target=[64]"), "{shapes:?}");
    let share = v["bandwidth_share"].as_f64().unwrap();
    assert!(share > 0.0 && v["triad_gb_per_s"].as_f64().unwrap() > 0.0);
    // Text output names the loss and the triad.
    let (code, out, _) = bench(&["mse", "--size", "1000", "--repeats", "2", "--triad"]);
    assert_eq!(code, Some(0));
    assert!(
        out.starts_with("mse (f32, value + gradient, 1 thread, "),
        "{out}"
    );
    assert!(out.contains("triad over the same bytes"), "{out}");
}

#[test]
fn bad_arguments_are_errors() {
    let (code, _, err) = bench(&["no_such_loss"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no_such_loss"), "{err}");
    let (code, _, err) = bench(&["huber", "--param", "delta=-1", "--size", "10"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("delta"), "{err}");
    let (code, _, _) = bench(&["mse", "--dtype", "f16"]);
    assert_eq!(code, Some(2));
}
