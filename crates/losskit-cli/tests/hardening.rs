//! Hostile inputs to the `losskit` binary (issue 12): unbounded files, pathological headers,
//! partial outputs, outputs over inputs, ignored flags, messages, half precision.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use losskit::half::f16;
use losskit::FloatArray;
use losskit_cli::npy::{encode, read};
use tempfile::TempDir;

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

fn fails(dir: &Path, args: &[&str]) -> String {
    let r = losskit(dir, args);
    assert_eq!(r.code, Some(2), "{args:?}: {}", r.stderr);
    assert_eq!(r.stdout, "", "{args:?}");
    assert_eq!(
        r.stderr.matches('\n').count(),
        1,
        "one line: {:?}",
        r.stderr
    );
    r.stderr
}

fn fixture() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = |v: &[f32]| encode(&[v.len()], &FloatArray::F32(v.to_vec())).unwrap();
    fs::write(d.join("x.npy"), f(&[0.5, -1.0, 2.0, 0.0])).unwrap();
    fs::write(d.join("y.npy"), f(&[1.0, 0.0, 1.0, 0.0])).unwrap();
    dir
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[cfg(unix)]
#[test]
fn dev_zero_fails_fast() {
    let t = fixture();
    let d = t.path();
    let start = Instant::now();
    let m = fails(
        d,
        &[
            "eval",
            "mse",
            "--input",
            "input=/dev/zero",
            "--input",
            "target=y.npy",
        ],
    );
    assert_eq!(m, "error: mse: cannot read `input` from /dev/zero: not a .npy file (it does not start with the NumPy magic string)\n");
    let m = fails(d, &["weights", "--labels", "/dev/zero"]);
    assert!(m.contains("not a .npy file"), "{m}");
    assert!(start.elapsed().as_secs() < 5);
}

#[test]
fn nested_header_brackets_fail_at_once_in_one_line_naming_the_file() {
    let t = fixture();
    let d = t.path();
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': {}{}}}",
        "[".repeat(1000),
        "]".repeat(1000)
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend([0u8; 16]);
    fs::write(d.join("nest.npy"), bytes).unwrap();
    let start = Instant::now();
    let m = fails(
        d,
        &[
            "eval",
            "mse",
            "--input",
            "input=nest.npy",
            "--input",
            "target=y.npy",
        ],
    );
    assert!(start.elapsed().as_secs() < 5);
    assert!(
        m.starts_with("error: mse: cannot read `input` from nest.npy: malformed .npy file: unexpected key 'x'"),
        "{m}"
    );
}

/// `eval mse` on x, y with `--reduction none`, the gradient to g.npy and the losses to `out`.
fn mse_none_with_grad(out: &str) -> Vec<&str> {
    vec![
        "eval",
        "mse",
        "--input",
        "input=x.npy",
        "--input",
        "target=y.npy",
        "--reduction",
        "none",
        "--grad",
        "input=g.npy",
        "--out",
        out,
    ]
}

#[test]
fn a_failing_output_leaves_no_other_output_behind() {
    let t = fixture();
    let d = t.path();
    let before = names(d);
    let m = fails(d, &mse_none_with_grad("o.npy/"));
    assert!(
        m.contains("cannot write the per-element losses to o.npy/"),
        "{m}"
    );
    assert_eq!(names(d), before, "no g.npy, no temporary file");
    // With an existing g.npy, it is left as it was.
    fs::write(d.join("g.npy"), b"old").unwrap();
    fs::create_dir(d.join("dir")).unwrap();
    fails(d, &mse_none_with_grad("dir"));
    assert_eq!(fs::read(d.join("g.npy")).unwrap(), b"old");
}

#[test]
fn an_output_over_an_input_is_refused() {
    let t = fixture();
    let d = t.path();
    let m = fails(
        d,
        &[
            "eval",
            "mse",
            "--input",
            "input=x.npy",
            "--input",
            "target=y.npy",
            "--grad",
            "input=./x.npy",
        ],
    );
    assert_eq!(m, "error: mse: `--grad input` would overwrite input `input` (./x.npy); write it to another file\n");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("y.npy", d.join("link.npy")).unwrap();
        let m = fails(
            d,
            &[
                "eval",
                "mse",
                "--input",
                "input=x.npy",
                "--input",
                "target=y.npy",
                "--grad",
                "input=link.npy",
            ],
        );
        assert!(m.contains("would overwrite input `target`"), "{m}");
    }
    let labels = encode(&[2], &FloatArray::F32(vec![0.0, 1.0])).unwrap();
    fs::write(d.join("l.npy"), labels).unwrap();
    let m = fails(d, &["weights", "--labels", "l.npy", "--out", "l.npy"]);
    assert!(
        m.contains("`--out` would overwrite the `--labels` file"),
        "{m}"
    );
}

#[cfg(unix)]
#[test]
fn a_symlinked_destination_is_replaced_not_followed() {
    let t = fixture();
    let d = t.path();
    fs::write(d.join("target.npy"), b"keep").unwrap();
    std::os::unix::fs::symlink("target.npy", d.join("g.npy")).unwrap();
    let r = losskit(
        d,
        &[
            "eval",
            "mse",
            "--input",
            "input=x.npy",
            "--input",
            "target=y.npy",
            "--grad",
            "input=g.npy",
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(fs::read(d.join("target.npy")).unwrap(), b"keep");
    assert!(!fs::symlink_metadata(d.join("g.npy"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(read(&d.join("g.npy")).unwrap().dims, vec![4]);
}

#[test]
fn counts_with_num_classes_are_honoured_or_refused() {
    let t = fixture();
    let d = t.path();
    let m = fails(
        d,
        &["weights", "--counts", "3,4", "--num-classes", "5", "--json"],
    );
    assert!(m.contains("class 2 has no samples"), "{m}");
    let r = losskit(
        d,
        &[
            "weights",
            "--counts",
            "3,4",
            "--num-classes",
            "5",
            "--absent",
            "zero",
            "--json",
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("\"classes\":5"), "{}", r.stdout);
    assert!(r.stdout.contains("\"counts\":[3,4,0,0,0]"), "{}", r.stdout);
    let m = fails(d, &["weights", "--counts", "3,4,5", "--num-classes", "2"]);
    assert_eq!(
        m,
        "error: weights: `--num-classes 2` is fewer than the 3 counts given\n"
    );
}

#[test]
fn messages_are_one_line_and_exact() {
    let t = fixture();
    let d = t.path();
    // More than 8 dimensions: the loss and the argument, one short line.
    let dims = vec![1usize; 40];
    fs::write(
        d.join("deep.npy"),
        encode(&dims, &FloatArray::F32(vec![1.0])).unwrap(),
    )
    .unwrap();
    let m = fails(
        d,
        &[
            "eval",
            "mse",
            "--input",
            "input=deep.npy",
            "--input",
            "target=y.npy",
        ],
    );
    assert_eq!(
        m,
        "error: mse: `input` has 40 dimensions; at most 8 are supported\n"
    );
    // An integer target printed exactly.
    let big: i64 = (1 << 62) + 1;
    let mut b = encode(&[1], &FloatArray::F64(vec![0.0])).unwrap();
    let at = b.windows(3).position(|w| w == b"<f8").unwrap();
    b[at..at + 3].copy_from_slice(b"<i8");
    let n = b.len();
    b[n - 8..].copy_from_slice(&big.to_le_bytes());
    fs::write(d.join("t.npy"), b).unwrap();
    let logits = encode(&[1, 3], &FloatArray::F32(vec![0.0, 1.0, 2.0])).unwrap();
    fs::write(d.join("z.npy"), logits).unwrap();
    let m = fails(
        d,
        &[
            "eval",
            "cross_entropy",
            "--input",
            "input=z.npy",
            "--input",
            "target=t.npy",
        ],
    );
    assert!(m.contains("4611686018427387905"), "{m}");
    // Booleans: exactly `true` or `false`.
    let m = fails(
        d,
        &[
            "eval",
            "poisson_nll",
            "--input",
            "input=x.npy",
            "--input",
            "target=y.npy",
            "--param",
            "full=1",
        ],
    );
    assert!(m.contains("`true` or `false`"), "{m}");
    // batchmean over an empty batch names batchmean.
    fs::write(
        d.join("e.npy"),
        encode(&[0, 3], &FloatArray::F32(vec![])).unwrap(),
    )
    .unwrap();
    let m = fails(
        d,
        &[
            "eval",
            "kl_div",
            "--input",
            "input=e.npy",
            "--input",
            "target=e.npy",
            "--reduction",
            "batchmean",
        ],
    );
    assert!(m.contains("`batchmean` over an empty batch"), "{m}");
}

#[test]
fn gaussian_nll_with_a_nan_variance_is_nan() {
    let t = fixture();
    let d = t.path();
    let var = encode(&[4], &FloatArray::F32(vec![1.0, f32::NAN, 2.0, 1.0])).unwrap();
    fs::write(d.join("v.npy"), var).unwrap();
    let r = losskit(
        d,
        &[
            "eval",
            "gaussian_nll",
            "--input",
            "input=x.npy",
            "--input",
            "target=y.npy",
            "--input",
            "var=v.npy",
            "--grad",
            "var=gv.npy",
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("\"value\":\"nan\""), "{}", r.stdout);
    let g = read(&d.join("gv.npy")).unwrap();
    let losskit_cli::npy::Data::F32(g) = g.data else {
        panic!()
    };
    assert!(g[1].is_nan());
}

#[test]
fn half_precision_files_work_end_to_end() {
    let t = fixture();
    let d = t.path();
    let h = FloatArray::F16(vec![f16::from_f32(100.0), f16::from_f32(0.5)]);
    fs::write(d.join("h.npy"), encode(&[2], &h).unwrap()).unwrap();
    let z = FloatArray::F16(vec![f16::ZERO; 2]);
    fs::write(d.join("hz.npy"), encode(&[2], &z).unwrap()).unwrap();
    let r = losskit(
        d,
        &[
            "eval",
            "log_cosh",
            "--input",
            "input=h.npy",
            "--input",
            "target=hz.npy",
            "--grad",
            "input=g.npy",
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("\"dtype\":\"f32\""), "{}", r.stdout);
    let g = read(&d.join("g.npy")).unwrap();
    let bytes = fs::read(d.join("g.npy")).unwrap();
    assert!(bytes.windows(5).any(|w| w == b"'<f2'"));
    assert!(matches!(g.data, losskit_cli::npy::Data::F16(_)));
    // bfloat16 as ml_dtypes saves it (`<V2`).
    let b = FloatArray::BF16(vec![losskit::half::bf16::from_f32(9.39); 2]);
    fs::write(d.join("b.npy"), encode(&[2], &b).unwrap()).unwrap();
    let r = losskit(
        d,
        &[
            "eval",
            "focal",
            "--input",
            "input=b.npy",
            "--input",
            "target=hz.npy",
            "--grad",
            "input=gb.npy",
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        !r.stdout.contains("nan") && !r.stdout.contains("inf"),
        "{}",
        r.stdout
    );
    assert!(matches!(
        read(&d.join("gb.npy")).unwrap().data,
        losskit_cli::npy::Data::BF16(_)
    ));
}

/// Issue 21, item 5: absurd sizes and counts are refused before anything is allocated, fast.
#[test]
fn bench_and_gradcheck_refuse_absurd_sizes_before_allocating() {
    let dir = fixture();
    let d = dir.path();
    for args in [
        &["bench", "mse", "--size", "1000000000000"][..],
        &["bench", "mse", "--size", "18446744073709551615"],
        &["bench", "mse", "--shape", "1000000,1000000"],
        &["bench", "mse", "--shape", "18446744073709551615,2"],
        &["bench", "mse", "--threads", "100000"],
        &["bench", "mse", "--repeats", "1000000000"],
        &["bench", "mse", "--warmup", "1000000000000"],
        &["bench", "mse", "--repeats", "0"],
        &["bench", "mse", "--size", "0"],
        &["gradcheck", "mse", "--size", "1000000000000"],
        &["gradcheck", "mse", "--size", "1000000"],
    ] {
        let t = Instant::now();
        let e = fails(d, args);
        assert!(
            e.starts_with("error: bench: ") || e.starts_with("error: gradcheck: "),
            "{args:?}: {e}"
        );
        assert!(
            t.elapsed().as_secs_f64() < 5.0,
            "{args:?} took {:?}",
            t.elapsed()
        );
    }
}

/// Issue 21, item 8: `--range LO,HI` (the documented form), overlap losses together, and no
/// empty parameter in a spec.
#[test]
fn plot_takes_the_documented_range_and_refuses_stray_commas() {
    let dir = fixture();
    let d = dir.path();
    for args in [
        &["plot", "mse", "--range", "0,5"][..],
        &["plot", "mse", "--range", "-2,2"],
        &["plot", "dice", "jaccard"],
    ] {
        let r = losskit(d, args);
        assert_eq!(r.code, Some(0), "{args:?}: {}", r.stderr);
    }
    for args in [
        &["plot", "huber:delta=0.5,"][..],
        &["plot", "huber:,delta=0.5"],
        &["plot", "huber:"],
        &["plot", "mse", "--range", "5,0"],
        &["plot", "mse", "--range", "0,nan"],
    ] {
        let r = losskit(d, args);
        assert_eq!(r.code, Some(2), "{args:?}: {}", r.stderr);
        assert!(r.stderr.starts_with("error: ") && r.stderr.lines().count() <= 2);
    }
}

/// Issue 21, item 9: `edt --out` over its own mask is refused (the `eval` rule, for every
/// command), and the mask is left as it was.
#[test]
fn edt_refuses_an_output_over_its_input() {
    let dir = fixture();
    let d = dir.path();
    let before = fs::read(d.join("x.npy")).unwrap();
    let e = fails(d, &["edt", "x.npy", "--out", "x.npy"]);
    assert!(e.contains("would overwrite the mask"), "{e}");
    assert_eq!(fs::read(d.join("x.npy")).unwrap(), before);
}

/// Issue 21, item 11: a usage error is the error and one hint line, not the usage block.
#[test]
fn usage_errors_are_two_lines() {
    let dir = fixture();
    let d = dir.path();
    for args in [
        &["bench"][..],
        &["eval"],
        &["eval", "mse", "--bogus"],
        &["bench", "mse", "--size", "many"],
        &["nope"],
        &["plot", "mse", "--range"],
    ] {
        let r = losskit(d, args);
        assert_eq!(r.code, Some(2), "{args:?}");
        assert_eq!(r.stdout, "");
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{args:?}: {:?}", r.stderr);
        assert!(
            lines[0].starts_with("error: ") && !lines[0].contains("Usage"),
            "{lines:?}"
        );
        assert_eq!(lines[1], "For more information, try '--help'.");
    }
}
