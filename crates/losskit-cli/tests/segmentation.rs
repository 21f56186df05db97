//! `losskit edt` and the segmentation losses through `losskit eval`, end to end.

use std::fs;
use std::path::Path;
use std::process::Command;

use losskit::{distance, CeDice, Dice, Reduction, SegInputs, Tensor};
use npyz::{DType, TypeStr, WriterBuilder};
use tempfile::TempDir;

fn losskit(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_losskit"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn save<T: npyz::Serialize + Copy>(dir: &Path, name: &str, descr: &str, dims: &[u64], data: &[T]) {
    let ty: TypeStr = descr.parse().unwrap();
    let file = fs::File::create(dir.join(name)).unwrap();
    let mut w = npyz::WriteOptions::<T>::new()
        .dtype(DType::Plain(ty))
        .shape(dims)
        .writer(std::io::BufWriter::new(file))
        .begin_nd()
        .unwrap();
    w.extend(data.iter().copied()).unwrap();
    w.finish().unwrap();
}

fn load_f64(path: &Path) -> Vec<f64> {
    let bytes = fs::read(path).unwrap();
    npyz::NpyFile::new(&bytes[..]).unwrap().into_vec().unwrap()
}

#[test]
fn edt_writes_the_library_distances() {
    let dir = TempDir::new().unwrap();
    let mask: Vec<u8> = (0..48).map(|i| u8::from(i % 7 != 0)).collect();
    save(dir.path(), "m.npy", "|u1", &[6, 8], &mask);
    let (code, out, err) = losskit(
        dir.path(),
        &["edt", "m.npy", "--out", "d.npy", "--spacing", "2,0.5"],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        "{\"shape\":[6,8],\"signed\":false,\"spacing\":[2.0,0.5],\"dtype\":\"f64\"}\n"
    );
    let b: Vec<bool> = mask.iter().map(|&m| m != 0).collect();
    let want = distance::edt(Tensor::new(&b, &[6, 8]).unwrap(), Some(&[2.0, 0.5])).unwrap();
    assert_eq!(load_f64(&dir.path().join("d.npy")), want);
    let (code, _, err) = losskit(dir.path(), &["edt", "m.npy", "--out", "s.npy", "--signed"]);
    assert_eq!(code, Some(0), "{err}");
    let want = distance::signed_distance(Tensor::new(&b, &[6, 8]).unwrap(), None).unwrap();
    assert_eq!(load_f64(&dir.path().join("s.npy")), want);
}

#[test]
fn edt_errors_exit_2_and_write_nothing() {
    let dir = TempDir::new().unwrap();
    save(dir.path(), "m.npy", "|u1", &[2, 2], &[1u8, 0, 1, 1]);
    let (code, out, err) = losskit(
        dir.path(),
        &["edt", "m.npy", "--out", "d.npy", "--spacing", "1"],
    );
    assert_eq!(code, Some(2));
    assert_eq!(out, "");
    assert_eq!(
        err,
        "error: edt: `spacing` has shape [1], expected [2] (one spacing per dimension of `mask`); nothing is broadcast\n"
    );
    assert!(!dir.path().join("d.npy").exists());
    let (code, _, err) = losskit(
        dir.path(),
        &["edt", "m.npy", "--out", "d.npy", "--spacing", "1,-2"],
    );
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        "error: edt: `spacing` at [1] is -2, expected a finite spacing > 0\n"
    );
}

#[test]
fn eval_reaches_the_segmentation_losses() {
    let dir = TempDir::new().unwrap();
    let x: Vec<f32> = (0..2 * 3 * 4)
        .map(|i| ((i * 7) % 11) as f32 / 3.0 - 1.5)
        .collect();
    let y: Vec<i64> = vec![0, 1, 2, 1, 2, 2, 0, 0];
    save(dir.path(), "x.npy", "<f4", &[2, 3, 4], &x);
    save(dir.path(), "y.npy", "<i8", &[2, 4], &y);
    let (code, out, err) = losskit(
        dir.path(),
        &[
            "eval",
            "dice",
            "--input",
            "input=x.npy",
            "--input",
            "target=y.npy",
            "--param",
            "batch=true",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let want = Dice::default()
        .batch(true)
        .value(
            &SegInputs::indices(
                Tensor::new(&x, &[2, 3, 4]).unwrap(),
                Tensor::new(&y, &[2, 4]).unwrap(),
            ),
            Reduction::Mean,
        )
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["shape"], serde_json::json!([3]));
    assert_eq!(json["value"].as_f64().unwrap() as f32, want);
    // A class index out of range: exit 2, the position named.
    save(
        dir.path(),
        "bad.npy",
        "<i8",
        &[2, 4],
        &[0i64, 1, 2, 3, 0, 0, 0, 0],
    );
    let (code, out, err) = losskit(
        dir.path(),
        &[
            "eval",
            "lovasz_softmax",
            "--input",
            "input=x.npy",
            "--input",
            "target=bad.npy",
        ],
    );
    assert_eq!((code, out.as_str()), (Some(2), ""));
    assert_eq!(
        err,
        "error: lovasz_softmax: `target` at [0, 3] is 3, expected a class index in [0, C) (C = `input`'s class dimension)\n"
    );
    // `none` on a combined loss (issue 21, item 10): [N, C'], whose mean is `mean`.
    let (code, _, err) = losskit(
        dir.path(),
        &[
            "eval",
            "ce_dice",
            "--input",
            "input=x.npy",
            "--input",
            "target=y.npy",
            "--reduction",
            "none",
            "--out",
            "o.npy",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let bytes = fs::read(dir.path().join("o.npy")).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    assert_eq!(npy.shape(), &[2, 3]);
    let none: Vec<f32> = npy.into_vec().unwrap();
    let mean = CeDice::default()
        .value(
            &SegInputs::indices(
                Tensor::new(&x, &[2, 3, 4]).unwrap(),
                Tensor::new(&y, &[2, 4]).unwrap(),
            ),
            Reduction::Mean,
        )
        .unwrap();
    let got = none.iter().map(|&v| f64::from(v)).sum::<f64>() / 6.0;
    assert!((got - f64::from(mean)).abs() < 1e-5, "{got} vs {mean}");
}
