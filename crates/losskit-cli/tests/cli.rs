//! The `losskit` binary end to end: `.npy` files written with npyz into a temporary directory,
//! the built binary run on them, stdout, stderr, exit status and written files checked exactly.
//!
//! Values are checked against hand computations and against the core's typed API (bit for
//! bit: the CLI must add nothing to the numbers).

use std::fs;
use std::path::Path;
use std::process::Command;

use losskit::{
    GaussianInputs, GaussianNll, Huber, LogCosh, Mae, Mse, Pointwise, PoissonNll, Quantile,
    Reduction, SmoothL1, L2,
};
use npyz::{DType, Order, TypeStr, WriterBuilder};
use serde_json::Value;
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------------
// Helpers

/// What one run of the binary produced.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `losskit ARGS` in `dir`, so relative file names in messages are as typed.
fn losskit(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_losskit"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the losskit binary runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// `losskit eval ARGS`, which must succeed with one JSON line and nothing on stderr.
fn eval_ok(dir: &Path, args: &[&str]) -> Eval {
    let mut full = vec!["eval"];
    full.extend_from_slice(args);
    let run = losskit(dir, &full);
    assert_eq!(run.code, Some(0), "{args:?}: {run:?}");
    assert_eq!(run.stderr, "", "{args:?}");
    assert!(
        run.stdout.ends_with('\n') && run.stdout.matches('\n').count() == 1,
        "{run:?}"
    );
    let json: Value = serde_json::from_str(&run.stdout).expect("stdout is JSON");
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["loss", "reduction", "dtype", "shape", "value"],
        "{}",
        run.stdout
    );
    Eval {
        json,
        line: run.stdout,
    }
}

struct Eval {
    json: Value,
    line: String,
}

impl Eval {
    /// The `value` field's text, exactly as printed.
    fn raw_value(&self) -> &str {
        let start = self.line.find("\"value\":").expect("a value field") + "\"value\":".len();
        &self.line[start..self.line.len() - 2]
    }
    /// `value` read as an f32, from its printed text (no detour through f64).
    fn f32(&self) -> f32 {
        assert_eq!(self.json["dtype"], "f32");
        self.raw_value().parse().expect("an f32")
    }
    fn f64(&self) -> f64 {
        assert_eq!(self.json["dtype"], "f64");
        self.raw_value().parse().expect("an f64")
    }
}

/// `losskit ARGS`, which must fail with exit status 2, nothing on stdout and exactly `stderr`.
fn fails(dir: &Path, args: &[&str], stderr: &str) {
    let run = losskit(dir, args);
    assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
    assert_eq!(run.stdout, "", "{args:?}");
    assert_eq!(run.stderr, stderr, "{args:?}");
}

fn save<T: npyz::Serialize + Copy>(dir: &Path, name: &str, descr: &str, dims: &[u64], data: &[T]) {
    save_ordered(dir, name, descr, Order::C, dims, data);
}

fn save_ordered<T: npyz::Serialize + Copy>(
    dir: &Path,
    name: &str,
    descr: &str,
    order: Order,
    dims: &[u64],
    data: &[T],
) {
    let ty: TypeStr = descr.parse().unwrap();
    let file = fs::File::create(dir.join(name)).unwrap();
    let mut w = npyz::WriteOptions::<T>::new()
        .dtype(DType::Plain(ty))
        .order(order)
        .shape(dims)
        .writer(std::io::BufWriter::new(file))
        .begin_nd()
        .unwrap();
    w.extend(data.iter().copied()).unwrap();
    w.finish().unwrap();
}

fn f32s(dir: &Path, name: &str, dims: &[u64], data: &[f32]) {
    save(dir, name, "<f4", dims, data);
}

fn f64s(dir: &Path, name: &str, dims: &[u64], data: &[f64]) {
    save(dir, name, "<f8", dims, data);
}

/// A written `.npy` file: its dtype string, shape and elements.
fn load<T: npyz::Deserialize>(path: &Path) -> (String, Vec<u64>, Vec<T>) {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let descr = match npy.dtype() {
        DType::Plain(ty) => ty.to_string(),
        other => panic!("{other:?}"),
    };
    assert_eq!(npy.order(), Order::C);
    let shape = npy.shape().to_vec();
    (descr, shape, npy.into_vec().unwrap())
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The regression fixture: prediction `x`, target `y` (residuals 0.5, 0, −2, 4), positive
/// `var`, non-negative rate `rate`, as f32 `x.npy`, `y.npy`, `var.npy`, `rate.npy`, their
/// f64 twins `x64.npy`… and `w.npy` (weights).
const X: [f32; 4] = [0.5, 2.0, -1.0, 4.0];
const Y: [f32; 4] = [0.0, 2.0, 1.0, 0.0];
const VAR: [f32; 4] = [1.0, 2.0, 0.5, 1.5];
const RATE: [f32; 4] = [0.5, 2.0, 1.0, 4.0];
const W: [f32; 4] = [1.0, 0.0, 2.0, 0.5];

fn fixture() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, data) in [("x", X), ("y", Y), ("var", VAR), ("rate", RATE), ("w", W)] {
        f32s(d, &format!("{name}.npy"), &[4], &data);
        let wide: Vec<f64> = data.iter().map(|&v| f64::from(v)).collect();
        f64s(d, &format!("{name}64.npy"), &[4], &wide);
    }
    dir
}

/// Value and gradient (mean) of a pointwise loss through the typed API.
macro_rules! typed {
    ($loss:expr, $x:expr, $y:expr) => {
        typed!($loss, $x, $y, Reduction::Mean)
    };
    ($loss:expr, $x:expr, $y:expr, $r:expr) => {{
        let inputs = Pointwise::new(&$x, &$y);
        let mut grad = vec![Default::default(); $x.len()];
        let v = $loss.value_and_grad(&inputs, $r, &mut grad).unwrap();
        (v, grad)
    }};
}

/// Checks an f32 gradient file against the expected elements, bit for bit.
fn assert_grad_f32(path: &Path, dims: &[u64], expected: &[f32]) {
    let (descr, shape, data) = load::<f32>(path);
    assert_eq!(
        (descr.as_str(), shape.as_slice()),
        ("<f4", dims),
        "{}",
        path.display()
    );
    assert_eq!(data, expected, "{}", path.display());
}

// ---------------------------------------------------------------------------------------------
// eval: the issue's example

#[test]
fn the_issue_example_huber_with_delta_and_gradient() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    f32s(d, "a.npy", &[4], &X);
    f32s(d, "b.npy", &[4], &Y);
    let run = losskit(
        d,
        &[
            "eval",
            "huber",
            "--input",
            "input=a.npy",
            "--input",
            "target=b.npy",
            "--param",
            "delta=0.5",
            "--grad",
            "input=g.npy",
        ],
    );
    // By hand, δ = 0.5, e = x − y = [0.5, 0, −2, 4]: ℓ = [½·0.25, 0, 0.5(2 − 0.25),
    // 0.5(4 − 0.25)] = [0.125, 0, 0.875, 1.875], mean 0.71875; ∂/∂x = clamp(e, ±δ)/4.
    assert_eq!(
        (run.code, run.stderr.as_str(), run.stdout.as_str()),
        (
            Some(0),
            "",
            "{\"loss\":\"huber\",\"reduction\":\"mean\",\"dtype\":\"f32\",\"shape\":[4],\"value\":0.71875}\n"
        )
    );
    assert_grad_f32(&d.join("g.npy"), &[4], &[0.125, 0.0, -0.125, 0.125]);
    let (v, g) = typed!(Huber::new(0.5).unwrap(), X, Y);
    assert_eq!(v, 0.71875);
    assert_grad_f32(&d.join("g.npy"), &[4], &g);
}

// ---------------------------------------------------------------------------------------------
// eval: every regression loss and each of its parameters

const XY: [&str; 4] = ["--input", "input=x.npy", "--input", "target=y.npy"];

fn args<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = base.to_vec();
    v.extend_from_slice(extra);
    v
}

/// Runs `eval LOSS` on x, y with `extra` arguments and a gradient to `g.npy`; checks the value
/// and gradient against `(value, grad)` exactly.
fn check_pointwise(dir: &Path, loss: &str, extra: &[&str], expected: (f32, Vec<f32>)) -> f32 {
    let mut a = vec![loss];
    a.extend(XY);
    a.extend_from_slice(extra);
    a.extend(["--grad", "input=g.npy"]);
    let e = eval_ok(dir, &a);
    assert_eq!(e.json["loss"], loss);
    assert_eq!(e.json["reduction"], "mean");
    assert_eq!(e.json["shape"], serde_json::json!([4]));
    assert_eq!(e.f32(), expected.0, "{loss} {extra:?}");
    assert_grad_f32(&dir.join("g.npy"), &[4], &expected.1);
    expected.0
}

#[test]
fn mse_l2_mae_log_cosh_match_hand_values_and_the_typed_api() {
    let dir = fixture();
    let d = dir.path();
    // e = [0.5, 0, −2, 4].
    let mse = check_pointwise(d, "mse", &[], typed!(Mse, X, Y));
    assert_eq!(mse, (0.25 + 0.0 + 4.0 + 16.0) / 4.0);
    assert_grad_f32(&d.join("g.npy"), &[4], &[0.25, 0.0, -1.0, 2.0]);
    let l2 = check_pointwise(d, "l2", &[], typed!(L2, X, Y));
    assert_eq!(l2, mse / 2.0);
    assert_grad_f32(&d.join("g.npy"), &[4], &[0.125, 0.0, -0.5, 1.0]);
    let mae = check_pointwise(d, "mae", &[], typed!(Mae, X, Y));
    assert_eq!(mae, 1.625);
    assert_grad_f32(&d.join("g.npy"), &[4], &[0.25, 0.0, -0.25, 0.25]);
    let log_cosh = check_pointwise(d, "log_cosh", &[], typed!(LogCosh, X, Y));
    let by_hand: f64 = [0.5f64, 0.0, -2.0, 4.0]
        .iter()
        .map(|e| e.cosh().ln())
        .sum::<f64>()
        / 4.0;
    assert!(
        (f64::from(log_cosh) - by_hand).abs() < 1e-6,
        "{log_cosh} vs {by_hand}"
    );
}

#[test]
fn huber_delta_changes_the_value() {
    let dir = fixture();
    let d = dir.path();
    // Default δ = 1: ℓ = [0.125, 0, 1.5, 3.5].
    let default = check_pointwise(d, "huber", &[], typed!(Huber::default(), X, Y));
    assert_eq!(default, 5.125 / 4.0);
    assert_eq!(
        check_pointwise(
            d,
            "huber",
            &["--param", "delta=1"],
            typed!(Huber::default(), X, Y)
        ),
        default
    );
    let wide = check_pointwise(
        d,
        "huber",
        &["--param", "delta=3"],
        typed!(Huber::new(3.0).unwrap(), X, Y),
    );
    // δ = 3: ℓ = [0.125, 0, 2, 3(4 − 1.5)] = [0.125, 0, 2, 7.5].
    assert_eq!(wide, 9.625 / 4.0);
}

#[test]
fn smooth_l1_beta_changes_the_value_and_zero_is_mae() {
    let dir = fixture();
    let d = dir.path();
    let default = check_pointwise(d, "smooth_l1", &[], typed!(SmoothL1::default(), X, Y));
    // β = 1: ℓ = [0.125, 0, 1.5, 3.5], as huber(1).
    assert_eq!(default, 5.125 / 4.0);
    // β = 2: ℓ = [0.0625, 0, 2 − 1, 4 − 1]; ∂ = [0.25, 0, −1, 1]/4.
    let two = check_pointwise(
        d,
        "smooth_l1",
        &["--param", "beta=2"],
        typed!(SmoothL1::new(2.0).unwrap(), X, Y),
    );
    assert_eq!(two, 4.0625 / 4.0);
    assert_grad_f32(&d.join("g.npy"), &[4], &[0.0625, 0.0, -0.25, 0.25]);
    let zero = check_pointwise(
        d,
        "smooth_l1",
        &["--param", "beta=0"],
        typed!(SmoothL1::new(0.0).unwrap(), X, Y),
    );
    assert_eq!(zero, 1.625);
}

#[test]
fn quantile_tau_changes_the_value() {
    let dir = fixture();
    let d = dir.path();
    let default = check_pointwise(d, "quantile", &[], typed!(Quantile::default(), X, Y));
    assert_eq!(default, 1.625 / 2.0, "tau = 0.5 is half of mae");
    let high = check_pointwise(
        d,
        "quantile",
        &["--param", "tau=0.9"],
        typed!(Quantile::new(0.9).unwrap(), X, Y),
    );
    // e' = y − x = [−0.5, 0, 2, −4]: ℓ = [0.05, 0, 1.8, 0.4], mean 0.5625.
    assert!((high - 0.5625).abs() < 1e-6, "{high}");
    let (_, _, g) = load::<f32>(&d.join("g.npy"));
    let by_hand = [0.1f32, -0.4, -0.9, 0.1].map(|v| v / 4.0);
    assert!(
        g.iter().zip(by_hand).all(|(a, b)| (a - b).abs() < 1e-6),
        "{g:?}"
    );
}

#[test]
fn poisson_nll_log_input_full_and_eps() {
    let dir = fixture();
    let d = dir.path();
    let default = check_pointwise(d, "poisson_nll", &[], typed!(PoissonNll::default(), X, Y));
    // log_input: ℓ = eˣ − y·x.
    let by_hand: f64 = X
        .iter()
        .zip(Y)
        .map(|(&x, y)| f64::from(x).exp() - f64::from(y * x))
        .sum::<f64>()
        / 4.0;
    assert!(
        (f64::from(default) - by_hand).abs() < 1e-5,
        "{default} vs {by_hand}"
    );

    let full = check_pointwise(
        d,
        "poisson_nll",
        &["--param", "full=true"],
        typed!(PoissonNll::default().full(true), X, Y),
    );
    // Stirling's term for the one target > 1 (y = 2): 2 ln 2 − 2 + ½ ln(4π).
    let stirling = 2.0 * 2f64.ln() - 2.0 + 0.5 * (4.0 * std::f64::consts::PI).ln();
    assert!(
        (f64::from(full - default) - stirling / 4.0).abs() < 1e-5,
        "{full} {default}"
    );

    // Rates instead of log-rates: ℓ = x − y·ln(x + eps).
    let raw = ["--input", "input=rate.npy", "--input", "target=y.npy"];
    for (extra, loss) in [
        (
            vec!["--param", "log_input=false"],
            PoissonNll::default().log_input(false),
        ),
        (
            vec!["--param", "log_input=false", "--param", "eps=0.5"],
            PoissonNll::default().log_input(false).eps(0.5).unwrap(),
        ),
        (
            vec![
                "--param",
                "log_input=false",
                "--param",
                "full=true",
                "--param",
                "eps=0",
            ],
            PoissonNll::default()
                .log_input(false)
                .full(true)
                .eps(0.0)
                .unwrap(),
        ),
    ] {
        let e = eval_ok(
            d,
            &args(
                &args(&["poisson_nll"], &raw),
                &args(&extra, &["--grad", "input=g.npy"]),
            ),
        );
        let (v, g) = typed!(loss, RATE, Y);
        assert_eq!(e.f32(), v, "{extra:?}");
        assert_grad_f32(&d.join("g.npy"), &[4], &g);
    }
    let plain = eval_ok(
        d,
        &args(
            &["poisson_nll"],
            &args(&raw, &["--param", "log_input=false"]),
        ),
    )
    .f32();
    let eps = eval_ok(
        d,
        &args(
            &["poisson_nll"],
            &args(&raw, &["--param", "log_input=false", "--param", "eps=0.5"]),
        ),
    )
    .f32();
    let by_hand: f64 = RATE
        .iter()
        .zip(Y)
        .map(|(&x, y)| f64::from(x) - f64::from(y) * (f64::from(x) + 0.5).ln())
        .sum::<f64>()
        / 4.0;
    assert!(
        (f64::from(eps) - by_hand).abs() < 1e-5,
        "{eps} vs {by_hand}"
    );
    assert_ne!(plain, eps);
}

fn gaussian(loss: GaussianNll) -> (f32, Vec<f32>, Vec<f32>) {
    let inputs = GaussianInputs::new(&X, &Y, &VAR);
    let (mut gx, mut gv) = (vec![0.0; 4], vec![0.0; 4]);
    let v = loss
        .value_and_grad(&inputs, Reduction::Mean, &mut gx, &mut gv)
        .unwrap();
    (v, gx, gv)
}

#[test]
fn gaussian_nll_full_eps_and_the_gradient_of_var() {
    let dir = fixture();
    let d = dir.path();
    let base = [
        "gaussian_nll",
        "--input",
        "input=x.npy",
        "--input",
        "target=y.npy",
        "--input",
        "var=var.npy",
    ];
    let grads = ["--grad", "input=gx.npy", "--grad", "var=gv.npy"];
    for (extra, loss) in [
        (vec![], GaussianNll::default()),
        (
            vec!["--param", "full=true"],
            GaussianNll::default().full(true),
        ),
        // eps = 1 lifts the variance 0.5 to 1.
        (
            vec!["--param", "eps=1"],
            GaussianNll::default().eps(1.0).unwrap(),
        ),
    ] {
        let e = eval_ok(d, &args(&args(&base, &extra), &grads));
        let (v, gx, gv) = gaussian(loss);
        assert_eq!(e.f32(), v, "{extra:?}");
        assert_grad_f32(&d.join("gx.npy"), &[4], &gx);
        assert_grad_f32(&d.join("gv.npy"), &[4], &gv);
    }
    // By hand, default: ℓ = ½(ln v + e²/v); ∂ℓ/∂var = ½(1/v − e²/v²), over 4.
    let e = eval_ok(d, &args(&base, &grads));
    let res = [0.5f64, 0.0, -2.0, 4.0];
    let var = VAR.map(f64::from);
    let by_hand: f64 = res
        .iter()
        .zip(var)
        .map(|(e, v)| 0.5 * (v.ln() + e * e / v))
        .sum::<f64>()
        / 4.0;
    assert!((f64::from(e.f32()) - by_hand).abs() < 1e-6);
    let (_, _, gv) = load::<f32>(&d.join("gv.npy"));
    for ((g, e), v) in gv.iter().zip(res).zip(var) {
        assert!(
            (f64::from(*g) - 0.5 * (1.0 / v - e * e / (v * v)) / 4.0).abs() < 1e-6,
            "{gv:?}"
        );
    }
    let full = eval_ok(d, &args(&base, &["--param", "full=true"])).f32();
    let eps = eval_ok(d, &args(&base, &["--param", "eps=1"])).f32();
    assert!((f64::from(full) - by_hand - 0.5 * (2.0 * std::f64::consts::PI).ln()).abs() < 1e-5);
    assert_ne!(eps, e.f32());
}

#[test]
fn a_gradient_takes_the_dtype_of_its_input() {
    let dir = fixture();
    let d = dir.path();
    // f32 `input` decides the compute type; `var` is float64, so its gradient is widened.
    let e = eval_ok(
        d,
        &[
            "gaussian_nll",
            "--input",
            "input=x.npy",
            "--input",
            "target=y.npy",
            "--input",
            "var=var64.npy",
            "--grad",
            "var=gv.npy",
            "--grad",
            "input=gx.npy",
        ],
    );
    let (v, gx, gv) = gaussian(GaussianNll::default());
    assert_eq!(e.f32(), v);
    assert_grad_f32(&d.join("gx.npy"), &[4], &gx);
    let (descr, shape, wide) = load::<f64>(&d.join("gv.npy"));
    assert_eq!((descr.as_str(), shape), ("<f8", vec![4]));
    assert_eq!(wide, gv.iter().map(|&g| f64::from(g)).collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------------------------
// eval: dtypes, reductions, outputs

#[test]
fn float64_prediction_computes_in_f64() {
    let dir = fixture();
    let d = dir.path();
    let e = eval_ok(
        d,
        &[
            "huber",
            "--input",
            "input=x64.npy",
            "--input",
            "target=y.npy",
            "--param",
            "delta=0.7",
            "--grad",
            "input=g.npy",
        ],
    );
    assert_eq!(e.json["dtype"], "f64");
    let (x, y) = (X.map(f64::from), Y.map(f64::from));
    let (v, g) = typed!(Huber::new(0.7).unwrap(), x, y);
    assert_eq!(e.f64(), v);
    let (descr, shape, data) = load::<f64>(&d.join("g.npy"));
    assert_eq!((descr.as_str(), shape, data), ("<f8", vec![4], g));
}

#[test]
fn an_f32_value_prints_as_f32_not_its_f64_widening() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // (0.1 − 0)² in f32 is 0.010000001: its shortest f32 text, not 0.010000000707805157.
    f32s(d, "a.npy", &[1], &[0.1]);
    f32s(d, "b.npy", &[1], &[0.0]);
    let e = eval_ok(
        d,
        &["mse", "--input", "input=a.npy", "--input", "target=b.npy"],
    );
    assert_eq!(e.raw_value(), "0.010000001");
    assert_eq!(e.f32(), 0.1f32 * 0.1f32);
}

#[test]
fn integer_and_boolean_targets_and_weights_are_converted() {
    let dir = fixture();
    let d = dir.path();
    save(d, "y_i32.npy", "<i4", &[4], &[0i32, 2, 1, 0]);
    save(d, "y_i64.npy", "<i8", &[4], &[0i64, 2, 1, 0]);
    save(d, "y_u8.npy", "|u1", &[4], &[0u8, 2, 1, 0]);
    save(d, "w_bool.npy", "|b1", &[4], &[true, false, true, true]);
    let reference = eval_ok(
        d,
        &[
            "poisson_nll",
            "--input",
            "input=x.npy",
            "--input",
            "target=y.npy",
        ],
    )
    .f32();
    for y in ["y_i32.npy", "y_i64.npy", "y_u8.npy"] {
        let e = eval_ok(
            d,
            &[
                "poisson_nll",
                "--input",
                "input=x.npy",
                "--input",
                &format!("target={y}"),
            ],
        );
        assert_eq!(e.f32(), reference, "{y}");
    }
    let masked = eval_ok(
        d,
        &[
            "mae",
            "--input",
            "input=x.npy",
            "--input",
            "target=y.npy",
            "--input",
            "weight=w_bool.npy",
        ],
    );
    // Weighted mean Σ w·ℓ / Σ w over |e| = [0.5, 0, 2, 4] with w = [1, 0, 1, 1].
    assert_eq!(masked.f32(), 6.5 / 3.0);
}

#[test]
fn weights_give_the_weighted_mean() {
    let dir = fixture();
    let d = dir.path();
    let e = eval_ok(
        d,
        &[
            "mse",
            "--input",
            "input=x.npy",
            "--input",
            "target=y.npy",
            "--input",
            "weight=w.npy",
            "--grad",
            "input=g.npy",
        ],
    );
    let inputs = Pointwise::new(&X, &Y).weight(&W);
    let mut g = [0.0f32; 4];
    let v = Mse
        .value_and_grad(&inputs, Reduction::Mean, &mut g)
        .unwrap();
    assert_eq!(e.f32(), v);
    // Σ w·e² / Σ w = (0.25 + 0 + 8 + 8) / 3.5.
    assert_eq!(v, 16.25 / 3.5);
    assert_grad_f32(&d.join("g.npy"), &[4], &g);
}

#[test]
fn sum_reduction() {
    let dir = fixture();
    let d = dir.path();
    let e = eval_ok(
        d,
        &[
            "mae",
            "--input",
            "input=x.npy",
            "--input",
            "target=y.npy",
            "--reduction",
            "sum",
            "--grad",
            "input=g.npy",
        ],
    );
    assert_eq!(e.json["reduction"], "sum");
    assert_eq!(e.f32(), 6.5);
    assert_grad_f32(&d.join("g.npy"), &[4], &[1.0, 0.0, -1.0, 1.0]);
    let (v, _) = typed!(Mae, X, Y, Reduction::Sum);
    assert_eq!(e.f32(), v);
}

#[test]
fn none_writes_per_element_losses_and_the_gradient_of_the_sum() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    f32s(d, "x.npy", &[2, 2], &X);
    f32s(d, "y.npy", &[2, 2], &Y);
    let e = eval_ok(
        d,
        &[
            "huber",
            "--input",
            "input=x.npy",
            "--input",
            "target=y.npy",
            "--reduction",
            "none",
            "--out",
            "l.npy",
            "--grad",
            "input=g.npy",
        ],
    );
    assert_eq!(
        e.line,
        "{\"loss\":\"huber\",\"reduction\":\"none\",\"dtype\":\"f32\",\"shape\":[2,2],\"value\":null}\n"
    );
    let (descr, shape, losses) = load::<f32>(&d.join("l.npy"));
    assert_eq!(
        (descr.as_str(), shape, losses),
        ("<f4", vec![2, 2], vec![0.125, 0.0, 1.5, 3.5])
    );
    // The gradient of the sum: clamp(e, ±1).
    assert_grad_f32(&d.join("g.npy"), &[2, 2], &[0.5, 0.0, -1.0, 1.0]);

    f64s(d, "x64.npy", &[4], &X.map(f64::from));
    f32s(d, "y4.npy", &[4], &Y);
    eval_ok(
        d,
        &[
            "l2",
            "--input",
            "input=x64.npy",
            "--input",
            "target=y4.npy",
            "--reduction",
            "none",
            "--out",
            "l64.npy",
        ],
    );
    let (descr, shape, losses) = load::<f64>(&d.join("l64.npy"));
    assert_eq!(
        (descr.as_str(), shape, losses),
        ("<f8", vec![4], vec![0.125, 0.0, 2.0, 8.0])
    );
}

#[test]
fn non_finite_values_are_json_strings() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    f32s(d, "big.npy", &[1], &[1e30]);
    f32s(d, "small.npy", &[1], &[-1e30]);
    f32s(d, "nan.npy", &[1], &[f32::NAN]);
    let inf = eval_ok(
        d,
        &[
            "mse",
            "--input",
            "input=big.npy",
            "--input",
            "target=small.npy",
        ],
    );
    assert_eq!(inf.raw_value(), "\"inf\"");
    let nan = eval_ok(
        d,
        &[
            "mse",
            "--input",
            "input=nan.npy",
            "--input",
            "target=small.npy",
        ],
    );
    assert_eq!(nan.raw_value(), "\"nan\"");
}

#[test]
fn zero_dimensional_and_empty_arrays() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    f32s(d, "a.npy", &[], &[3.0]);
    f32s(d, "b.npy", &[], &[1.0]);
    let e = eval_ok(
        d,
        &[
            "mse",
            "--input",
            "input=a.npy",
            "--input",
            "target=b.npy",
            "--grad",
            "input=g.npy",
        ],
    );
    assert_eq!(
        e.line,
        "{\"loss\":\"mse\",\"reduction\":\"mean\",\"dtype\":\"f32\",\"shape\":[],\"value\":4.0}\n"
    );
    assert_grad_f32(&d.join("g.npy"), &[], &[4.0]);
    f32s(d, "e.npy", &[0, 3], &[]);
    let e = eval_ok(
        d,
        &[
            "mse",
            "--input",
            "input=e.npy",
            "--input",
            "target=e.npy",
            "--reduction",
            "sum",
        ],
    );
    assert_eq!(e.line, "{\"loss\":\"mse\",\"reduction\":\"sum\",\"dtype\":\"f32\",\"shape\":[0,3],\"value\":0.0}\n");
}

// ---------------------------------------------------------------------------------------------
// eval: errors (status 2, nothing on stdout, the exact message, no file written)

fn eval_fails(d: &Path, a: &[&str], stderr: &str) {
    fails(d, &args(&["eval"], a), stderr);
}

#[test]
fn unknown_names_and_missing_inputs() {
    let dir = fixture();
    let d = dir.path();
    eval_fails(
        d,
        &["hubr", "--input", "input=x.npy"],
        "error: unknown loss `hubr`; did you mean `huber`? (`losskit list` shows the catalogue)\n",
    );
    eval_fails(
        d,
        &["zzzzzzzz", "--input", "input=x.npy"],
        "error: unknown loss `zzzzzzzz` (`losskit list` shows the catalogue)\n",
    );
    eval_fails(
        d,
        &["huber", "--input", "inptu=x.npy", "--input", "target=y.npy"],
        "error: huber: unknown input `inptu`; it takes `input`, `target`, `weight`\n",
    );
    eval_fails(
        d,
        &["huber", "--input", "input=x.npy"],
        "error: huber: missing required input `target`\n",
    );
    eval_fails(
        d,
        &[
            "gaussian_nll",
            "--input",
            "input=x.npy",
            "--input",
            "target=y.npy",
        ],
        "error: gaussian_nll: missing required input `var`\n",
    );
    eval_fails(
        d,
        &[
            "huber",
            "--input",
            "input=x.npy",
            "--input",
            "input=y.npy",
            "--input",
            "target=y.npy",
        ],
        "error: huber: input `input` is given more than once\n",
    );
}

#[test]
fn bad_parameters() {
    let dir = fixture();
    let d = dir.path();
    let run = |extra: &[&str], loss: &str, stderr: &str| {
        eval_fails(d, &args(&args(&[loss], &XY), extra), stderr)
    };
    run(
        &["--param", "dleta=1"],
        "huber",
        "error: huber: unknown parameter `dleta`; it takes `delta`\n",
    );
    run(
        &["--param", "delta=1"],
        "mse",
        "error: mse: unknown parameter `delta`; this loss has no parameters\n",
    );
    run(
        &["--param", "delta=big"],
        "huber",
        "error: huber: `delta` must be a number, got `big`\n",
    );
    run(
        &["--param", "log_input=yes"],
        "poisson_nll",
        "error: poisson_nll: `log_input` must be `true` or `false`, got `yes`\n",
    );
    run(
        &["--param", "delta=0"],
        "huber",
        "error: huber: `delta` must be > 0 and finite, got 0\n",
    );
    run(
        &["--param", "delta=inf"],
        "huber",
        "error: huber: `delta` must be > 0 and finite, got inf\n",
    );
    run(
        &["--param", "tau=1.5"],
        "quantile",
        "error: quantile: `tau` must be in (0, 1), got 1.5\n",
    );
    run(
        &["--param", "beta=-1"],
        "smooth_l1",
        "error: smooth_l1: `beta` must be >= 0 and finite, got -1\n",
    );
    run(
        &["--param", "delta=1", "--param", "delta=2"],
        "huber",
        "error: huber: parameter `delta` is given more than once\n",
    );
    assert_eq!(files_in(d).iter().filter(|f| f.starts_with('g')).count(), 0);
}

#[test]
fn shape_and_value_errors() {
    let dir = fixture();
    let d = dir.path();
    f32s(d, "col.npy", &[4, 1], &X);
    f32s(d, "empty.npy", &[0], &[]);
    f32s(d, "neg.npy", &[4], &[1.0, 2.0, -0.5, 1.0]);
    eval_fails(d, &["mse", "--input", "input=col.npy", "--input", "target=y.npy", "--grad", "input=g.npy"],
        "error: mse: `target` has shape [4], expected [4, 1] (the shape of `input`); nothing is broadcast\n");
    eval_fails(d, &["mse", "--input", "input=empty.npy", "--input", "target=empty.npy"],
        "error: mse: reduction `mean` over an empty input is undefined; use `sum` or a non-empty batch\n");
    eval_fails(
        d,
        &[
            "gaussian_nll",
            "--input",
            "input=x.npy",
            "--input",
            "target=y.npy",
            "--input",
            "var=neg.npy",
        ],
        "error: gaussian_nll: `var` at [2] is -0.5, expected a variance >= 0\n",
    );
    eval_fails(
        d,
        &[
            "poisson_nll",
            "--input",
            "input=x.npy",
            "--input",
            "target=y.npy",
            "--param",
            "log_input=false",
        ],
        "error: poisson_nll: `input` at [2] is -1, expected a rate >= 0 (`log_input` is false)\n",
    );
    assert!(!d.join("g.npy").exists());
}

#[test]
fn dtype_and_file_errors() {
    let dir = fixture();
    let d = dir.path();
    save(d, "int.npy", "<i8", &[4], &[1i64, 2, 3, 4]);
    save(d, "u16.npy", "<u2", &[4], &[1u16, 2, 3, 4]);
    save(d, "big_endian.npy", ">f4", &[4], &X);
    save_ordered(d, "fortran.npy", "<f4", Order::Fortran, &[2, 2], &X);
    fs::write(d.join("text.npy"), "0.5 2.0 -1.0 4.0\n").unwrap();
    let mut truncated = fs::read(d.join("x.npy")).unwrap();
    truncated.truncate(truncated.len() - 4);
    fs::write(d.join("truncated.npy"), truncated).unwrap();

    eval_fails(
        d,
        &[
            "huber",
            "--input",
            "input=int.npy",
            "--input",
            "target=y.npy",
        ],
        "error: huber: `input` has dtype int64, expected float32 or float64\n",
    );
    eval_fails(d, &["huber", "--input", "input=u16.npy", "--input", "target=y.npy"],
        "error: huber: cannot read `input` from u16.npy: dtype `<u2` is not supported; .npy inputs must be float16, bfloat16, float32, float64, int32, int64, uint8 or bool\n");
    eval_fails(d, &["huber", "--input", "input=x.npy", "--input", "target=big_endian.npy"],
        "error: huber: cannot read `target` from big_endian.npy: dtype `>f4` is big-endian; save it little-endian, e.g. `np.save(path, arr.astype(arr.dtype.newbyteorder('<')))`\n");
    eval_fails(d, &["huber", "--input", "input=fortran.npy", "--input", "target=y.npy"],
        "error: huber: cannot read `input` from fortran.npy: the array is stored in Fortran order; save it in C order, e.g. `np.save(path, np.ascontiguousarray(arr))`\n");
    eval_fails(d, &["huber", "--input", "input=text.npy", "--input", "target=y.npy"],
        "error: huber: cannot read `input` from text.npy: not a .npy file (it does not start with the NumPy magic string)\n");
    eval_fails(d, &["huber", "--input", "input=truncated.npy", "--input", "target=y.npy"],
        "error: huber: cannot read `input` from truncated.npy: the file is truncated: its header declares shape [4] of `<f4` (16 bytes of data) but 12 bytes follow the header\n");
    let missing = fs::read_to_string("/nonexistent-losskit-file.npy").unwrap_err();
    eval_fails(
        d,
        &[
            "huber",
            "--input",
            "input=missing.npy",
            "--input",
            "target=y.npy",
        ],
        &format!("error: huber: cannot read `input` from missing.npy: {missing}\n"),
    );
}

#[test]
fn gradient_reduction_and_output_errors() {
    let dir = fixture();
    let d = dir.path();
    let before = files_in(d);
    fn xy<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        args(&args(&["huber"], &XY), extra)
    }
    eval_fails(d, &xy(&["--grad", "target=g.npy"]),
        "error: huber: `target` has no gradient (it is not a prediction); gradients exist for `input`\n");
    eval_fails(d, &xy(&["--grad", "weight=g.npy"]),
        "error: huber: `weight` has no gradient (it is not a prediction); gradients exist for `input`\n");
    eval_fails(
        d,
        &xy(&["--reduction", "batchmean"]),
        "error: huber: reduction `batchmean` is not supported; it takes `mean`, `sum`, `none`\n",
    );
    eval_fails(d, &xy(&["--reduction", "none"]),
        "error: huber: reduction `none` gives one loss per element; pass `--out FILE` to receive them as .npy\n");
    eval_fails(d, &xy(&["--out", "l.npy"]),
        "error: huber: `--out` receives per-element losses, which only `--reduction none` produces (got `mean`)\n");
    eval_fails(
        d,
        &xy(&["--grad", "input=g.npy", "--grad", "input=h.npy"]),
        "error: huber: `--grad input` is given more than once\n",
    );
    eval_fails(
        d,
        &xy(&[
            "--reduction",
            "none",
            "--grad",
            "input=g.npy",
            "--out",
            "g.npy",
        ]),
        "error: huber: `--grad input` and `--out` both write to g.npy\n",
    );
    eval_fails(
        d,
        &xy(&[
            "--reduction",
            "none",
            "--grad",
            "input=g.npy",
            "--out",
            "./g.npy",
        ]),
        "error: huber: `--grad input` and `--out` both write to ./g.npy\n",
    );
    let err = fs::write("/nonexistent-losskit-dir/g.npy", b"").unwrap_err();
    eval_fails(d, &xy(&["--grad", "input=/nonexistent-losskit-dir/g.npy"]),
        &format!("error: huber: cannot write the gradient of `input` to /nonexistent-losskit-dir/g.npy: {err}\n"));
    eval_fails(
        d,
        &xy(&["--grad", "input=."]),
        "error: huber: cannot write the gradient of `input` to .: it is a directory\n",
    );
    // The first output is fine, the second cannot be written: neither may appear.
    eval_fails(
        d,
        &["gaussian_nll", "--input", "input=x.npy", "--input", "target=y.npy", "--input", "var=var.npy",
          "--grad", "input=gx.npy", "--grad", "var=/nonexistent-losskit-dir/gv.npy"],
        &format!("error: gaussian_nll: cannot write the gradient of `var` to /nonexistent-losskit-dir/gv.npy: {err}\n"),
    );
    assert_eq!(
        files_in(d),
        before,
        "no output and no temporary file is left behind"
    );
}

#[test]
fn usage_errors_come_from_clap_with_status_2() {
    let dir = fixture();
    let d = dir.path();
    eval_fails(d, &["huber", "--input", "x.npy"],
        "error: invalid value 'x.npy' for '--input <NAME=FILE>': expected NAME=FILE, e.g. `input=pred.npy`\nFor more information, try '--help'.\n");
    eval_fails(d, &["huber", "--param", "delta"],
        "error: invalid value 'delta' for '--param <KEY=VALUE>': expected KEY=VALUE, e.g. `delta=0.5`\nFor more information, try '--help'.\n");
    eval_fails(d, &["huber", "--reduction", "avg"],
        "error: invalid value 'avg' for '--reduction <MODE>' [possible values: mean, sum, none, batchmean]\nFor more information, try '--help'.\n");
    let run = losskit(d, &["frobnicate"]);
    assert_eq!((run.code, run.stdout.as_str()), (Some(2), ""));
    assert!(
        run.stderr
            .starts_with("error: unrecognized subcommand 'frobnicate'"),
        "{}",
        run.stderr
    );
    let run = losskit(d, &["eval", "--help"]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""));
    assert!(
        run.stdout.contains("\"inf\", \"-inf\" or \"nan\""),
        "{}",
        run.stdout
    );
}

// ---------------------------------------------------------------------------------------------
// list and explain

const REGRESSION: [&str; 9] = [
    "mse",
    "l2",
    "mae",
    "huber",
    "smooth_l1",
    "log_cosh",
    "quantile",
    "poisson_nll",
    "gaussian_nll",
];

#[test]
fn list_shows_every_loss_grouped_by_family() {
    let dir = tempfile::tempdir().unwrap();
    let run = losskit(dir.path(), &["list"]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""));
    let count = losskit::catalogue().count();
    assert!(
        run.stdout.starts_with(&format!(
            "{count} losses; `losskit explain LOSS` shows one in full.\n\nregression\n"
        )),
        "{}",
        run.stdout
    );
    // The name column is as wide as the longest name plus two.
    let width = losskit::catalogue().map(|l| l.name.len()).max().unwrap() + 2;
    let pad = " ".repeat(width + 2);
    for l in losskit::catalogue() {
        assert!(
            run.stdout
                .contains(&format!("  {:<width$}{}\n", l.name, l.summary)),
            "{}",
            l.name
        );
    }
    assert!(run.stdout.contains(&format!("  {:<width$}quadratic for |x − y| ≤ delta, linear beyond: mse near the target, mae far away\n{pad}inputs  input, target, [weight]\n{pad}params  delta=1 (> 0)\n", "huber")), "{}", run.stdout);
    assert!(run.stdout.contains(&format!(
        "{pad}params  log_input=true, full=false, eps=1e-8 (>= 0)\n"
    )));
    assert!(run
        .stdout
        .contains(&format!("{pad}params  tau=0.5 (in (0, 1))\n")));
    assert!(run
        .stdout
        .contains(&format!("{pad}inputs  input, target, var, [weight]\n")));
}

#[test]
fn list_json_has_every_loss_and_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let run = losskit(dir.path(), &["list", "--json"]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""));
    let all: Vec<Value> = serde_json::from_str(&run.stdout).unwrap();
    let names: Vec<&str> = all.iter().map(|l| l["name"].as_str().unwrap()).collect();
    let catalogue: Vec<&str> = losskit::catalogue().map(|l| l.name).collect();
    assert_eq!(names, catalogue);
    for name in REGRESSION {
        assert!(names.contains(&name), "{name}");
    }
    for (l, info) in all.iter().zip(losskit::catalogue()) {
        let keys: Vec<&str> = l.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "name",
                "family",
                "summary",
                "inputs",
                "params",
                "reductions",
                "formula",
                "gradient",
                "when_to_use",
                "pitfalls",
                "reference"
            ]
        );
        assert_eq!(l["family"], info.family.name());
        assert_eq!(l["formula"], info.formula);
        assert_eq!(l["gradient"], info.gradient);
        assert_eq!(l["when_to_use"], info.when_to_use);
        assert_eq!(l["reference"], info.reference);
        assert_eq!(l["pitfalls"], serde_json::json!(info.pitfalls));
        assert_eq!(l["inputs"].as_array().unwrap().len(), info.inputs.len());
        assert_eq!(l["params"].as_array().unwrap().len(), info.params.len());
    }
    let huber = &all[names.iter().position(|&n| n == "huber").unwrap()];
    assert_eq!(
        huber["reductions"],
        serde_json::json!(["mean", "sum", "none"])
    );
    assert_eq!(
        huber["inputs"][2],
        serde_json::json!({
            "name": "weight", "role": "weight", "kind": "float", "required": false,
            "shape": "same as `input` (element-wise; mean = Σ w·ℓ / Σ w)"
        })
    );
    assert_eq!(
        huber["params"][0],
        serde_json::json!({
            "name": "delta", "kind": "float", "default": 1.0,
            "range": { "text": "> 0", "min": { "value": 0.0, "inclusive": false }, "max": null },
            "options": null,
            "doc": "where the loss turns from quadratic to linear, in units of the residual"
        })
    );
    let quantile = &all[names.iter().position(|&n| n == "quantile").unwrap()];
    assert_eq!(
        quantile["params"][0]["range"],
        serde_json::json!({
            "text": "in (0, 1)", "min": { "value": 0.0, "inclusive": false }, "max": { "value": 1.0, "inclusive": false }
        })
    );
    let poisson = &all[names.iter().position(|&n| n == "poisson_nll").unwrap()];
    assert_eq!(poisson["params"][0]["kind"], "bool");
    assert_eq!(poisson["params"][0]["default"], true);
    assert_eq!(poisson["params"][0]["range"], Value::Null);
}

#[test]
fn explain_huber_prints_the_whole_entry() {
    let dir = tempfile::tempdir().unwrap();
    let run = losskit(dir.path(), &["explain", "huber"]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""));
    let info = losskit::find("huber").unwrap();
    let out = &run.stdout;
    assert!(
        out.starts_with(&format!(
            "huber (regression)\n{}\n\nFormula\n  {}\n\nGradient\n  {}\n",
            info.summary, info.formula, info.gradient
        )),
        "{out}"
    );
    assert!(out.contains("\nInputs\n  input   prediction, float, required; shape: any shape\n  target  target, float, required; shape: same as `input`\n"), "{out}");
    assert!(out.contains("\nParameters\n  delta  number, default 1, > 0\n         where the loss turns from quadratic to linear, in units of the residual\n"), "{out}");
    assert!(
        out.contains("\nReductions\n  mean (default), sum, none\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!("\nWhen to use it\n  {}\n", info.when_to_use)),
        "{out}"
    );
    let pitfalls: String = info.pitfalls.iter().map(|p| format!("  - {p}\n")).collect();
    assert_eq!(info.pitfalls.len(), 3);
    assert!(out.contains(&format!("\nPitfalls\n{pitfalls}")), "{out}");
    assert!(
        out.contains(&format!("\nReference\n  {}\n", info.reference)),
        "{out}"
    );
    assert!(out.ends_with("\nExample\n  losskit eval huber --input input=input.npy --input target=target.npy --grad input=grad_input.npy\n"), "{out}");
}

#[test]
fn explain_every_loss_and_unknown_ones() {
    let dir = tempfile::tempdir().unwrap();
    for l in losskit::catalogue() {
        let run = losskit(dir.path(), &["explain", l.name]);
        assert_eq!(run.code, Some(0), "{}", l.name);
        assert!(
            run.stdout.contains(l.formula) && run.stdout.contains(l.reference),
            "{}",
            l.name
        );
    }
    let none = losskit(dir.path(), &["explain", "mse"]);
    assert!(
        none.stdout.contains("\nParameters\n  none\n"),
        "{}",
        none.stdout
    );
    fails(
        dir.path(),
        &["explain", "hubr"],
        "error: unknown loss `hubr`; did you mean `huber`? (`losskit list` shows the catalogue)\n",
    );
    fails(dir.path(), &["explain", "gausian_nll"],
        "error: unknown loss `gausian_nll`; did you mean `gaussian_nll`? (`losskit list` shows the catalogue)\n");
}

// ---------------------------------------------------------------------------------------------
// weights

/// `losskit weights ARGS`, which must succeed with nothing on stderr; its stdout.
fn weights_ok(dir: &Path, args: &[&str]) -> String {
    let mut full = vec!["weights"];
    full.extend_from_slice(args);
    let run = losskit(dir, &full);
    assert_eq!(run.code, Some(0), "{args:?}: {run:?}");
    assert_eq!(run.stderr, "", "{args:?}");
    run.stdout
}

fn weights_fails(dir: &Path, args: &[&str], stderr: &str) {
    let mut full = vec!["weights"];
    full.extend_from_slice(args);
    fails(dir, &full, stderr);
}

/// The `--json` line parsed, after checking it is one line with the documented keys in order.
fn weights_json(dir: &Path, args: &[&str], keys: &[&str]) -> (Value, String) {
    let mut full = args.to_vec();
    full.push("--json");
    let line = weights_ok(dir, &full);
    assert!(
        line.ends_with('\n') && line.matches('\n').count() == 1,
        "{line}"
    );
    let json: Value = serde_json::from_str(&line).expect("stdout is JSON");
    let got: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(got, keys, "{line}");
    (json, line)
}

const CLASS_KEYS: [&str; 8] = [
    "scheme",
    "beta",
    "normalized",
    "absent",
    "classes",
    "total",
    "counts",
    "weights",
];
const POS_KEYS: [&str; 7] = [
    "scheme",
    "absent",
    "labels",
    "total",
    "positives",
    "negatives",
    "weights",
];

/// The `weights` array of a JSON line, each number parsed from its printed text with Rust's
/// correctly rounded parser (no detour through serde_json's float parsing).
fn json_weights(line: &str) -> Vec<f64> {
    let start = line.find("\"weights\":[").expect("a weights field") + "\"weights\":[".len();
    let end = start + line[start..].find(']').expect("the end of the array");
    line[start..end]
        .split(',')
        .map(|x| x.parse().expect("a number"))
        .collect()
}

const HINT_WEIGHT: &str =
    "`--out FILE` saves these weights as .npy for `losskit eval LOSS ... --input weight=FILE`\n";
const HINT_POS: &str =
    "`--out FILE` saves these weights as .npy for `losskit eval LOSS ... --input pos_weight=FILE`\n";

#[test]
fn weights_from_counts_inverse_by_hand_and_by_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = weights_ok(d, &["--counts", "900,90,10"]);
    assert_eq!(
        out,
        format!(
            "inverse weights, not normalized: 3 classes, 1000 samples\n\
             class  count     weight\n    \
             0    900   0.370370\n    \
             1     90   3.703704\n    \
             2     10  33.333333\n{HINT_WEIGHT}"
        )
    );
    // One class of one sample: the nouns agree.
    assert!(weights_ok(d, &["--counts", "1"])
        .starts_with("inverse weights, not normalized: 1 class, 1 sample\n"));
    // Spaces around the numbers are allowed; `--scheme inverse` is the default.
    assert_eq!(
        weights_ok(d, &["--counts", "900, 90, 10", "--scheme", "inverse"]),
        out
    );

    let (json, line) = weights_json(d, &["--counts", "900,90,10"], &CLASS_KEYS);
    assert_eq!(line, "{\"scheme\":\"inverse\",\"beta\":null,\"normalized\":false,\"absent\":\"error\",\"classes\":3,\"total\":1000,\"counts\":[900,90,10],\"weights\":[0.37037037037037035,3.7037037037037037,33.333333333333336]}\n");
    assert_eq!(json["counts"], serde_json::json!([900, 90, 10]));
    // N / (C n_c) = 1000 / (3 · n_c), as scikit-learn computes it.
    let by_hand = [1000.0 / 2700.0, 1000.0 / 270.0, 1000.0 / 30.0];
    assert_eq!(json_weights(&line), by_hand);
    let library = losskit::weights::ClassWeights::default()
        .from_counts(&[900, 90, 10])
        .unwrap();
    assert_eq!(json_weights(&line), library.weights());
    // Every class gets the same total weight N / C.
    for (n, w) in [900.0, 90.0, 10.0].iter().zip(json_weights(&line)) {
        assert!((n * w - 1000.0 / 3.0).abs() < 1e-12);
    }

    // inverse_sqrt is the square root, bit for bit.
    let (_, sqrt) = weights_json(
        d,
        &["--counts", "900,90,10", "--scheme", "inverse_sqrt"],
        &CLASS_KEYS,
    );
    let roots: Vec<f64> = by_hand.iter().map(|w| w.sqrt()).collect();
    assert_eq!(json_weights(&sqrt), roots);
    assert!(sqrt.starts_with("{\"scheme\":\"inverse_sqrt\",\"beta\":null,"));
}

#[test]
fn weights_effective_normalized() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let args = [
        "--counts",
        "900,90,10",
        "--scheme",
        "effective",
        "--beta",
        "0.999",
        "--normalize",
    ];
    assert_eq!(
        weights_ok(d, &args),
        format!(
            "effective weights (beta 0.999), normalized to sum to 3: 3 classes, 1000 samples\n\
             class  count     weight\n    \
             0    900  0.0444296\n    \
             1     90  0.3062825\n    \
             2     10  2.6492879\n{HINT_WEIGHT}"
        )
    );
    let (json, line) = weights_json(d, &args, &CLASS_KEYS);
    assert_eq!(line, "{\"scheme\":\"effective\",\"beta\":0.999,\"normalized\":true,\"absent\":\"error\",\"classes\":3,\"total\":1000,\"counts\":[900,90,10],\"weights\":[0.044429555641391255,0.306282526303838,2.6492879180547706]}\n");
    assert_eq!(json["beta"], 0.999);
    let got = json_weights(&line);
    let library =
        losskit::weights::ClassWeights::new(losskit::weights::Scheme::Effective { beta: 0.999 })
            .unwrap()
            .normalize(true)
            .from_counts(&[900, 90, 10])
            .unwrap();
    assert_eq!(got, library.weights());
    // (1 − β)/(1 − β^n), normalised to sum to 3, from Python's decimal module at 50 digits
    // with the stored β = 0.999.
    let exact = [
        0.044_429_555_641_391_25,
        0.306_282_526_303_838,
        2.649_287_918_054_770_6,
    ];
    for (g, e) in got.iter().zip(exact) {
        assert!(((g - e) / e).abs() < 1e-15, "{g} vs {e}");
    }
    assert!((got.iter().sum::<f64>() - 3.0).abs() < 1e-15);

    // The default β is 0.999.
    assert_eq!(
        weights_ok(
            d,
            &[
                "--counts",
                "900,90,10",
                "--scheme",
                "effective",
                "--normalize"
            ]
        ),
        weights_ok(d, &args)
    );
}

#[test]
fn weights_absent_zero_gives_zero_and_renormalizes_over_the_present_classes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = weights_ok(
        d,
        &["--counts", "900,0,10", "--absent", "zero", "--normalize"],
    );
    assert_eq!(
        out,
        format!(
            "inverse weights, normalized to sum to 2, 0 for classes with no samples: 3 classes, 910 samples\n\
             class  count     weight\n    \
             0    900  0.0219780\n    \
             1      0  0.0000000\n    \
             2     10  1.9780220\n{HINT_WEIGHT}"
        )
    );
    let (json, line) = weights_json(
        d,
        &["--counts", "900,0,10", "--absent", "zero"],
        &CLASS_KEYS,
    );
    assert_eq!(json["absent"], "zero");
    // scikit-learn's balanced weights over the two present classes: 910 / (2 · n_c).
    assert_eq!(json_weights(&line), [910.0 / 1800.0, 0.0, 910.0 / 20.0]);
}

#[test]
fn weights_from_labels_of_any_integer_dtype_and_shape() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Four "images" of three pixels: class 0 six times, 1 and 2 three times each.
    let labels = [0i64, 1, 2, 2, 2, 1, 0, 0, 0, 0, 1, 0];
    save(d, "y.npy", "<i8", &[4, 3], &labels);
    let out = weights_ok(d, &["--labels", "y.npy"]);
    assert_eq!(
        out,
        format!(
            "inverse weights, not normalized: 3 classes, 12 samples\n\
             class  count    weight\n    \
             0      6  0.666667\n    \
             1      3  1.333333\n    \
             2      3  1.333333\n{HINT_WEIGHT}"
        )
    );
    let (json, line) = weights_json(d, &["--labels", "y.npy"], &CLASS_KEYS);
    assert_eq!(json["counts"], serde_json::json!([6, 3, 3]));
    assert_eq!(json["total"], 12);
    // scikit-learn's compute_class_weight("balanced", classes=[0, 1, 2], y=labels).
    assert_eq!(json_weights(&line), [12.0 / 18.0, 12.0 / 9.0, 12.0 / 9.0]);
    let library = losskit::weights::ClassWeights::default()
        .from_labels(losskit::Tensor::new(&labels, &[4, 3]).unwrap(), None)
        .unwrap();
    assert_eq!(json_weights(&line), library.weights());

    // The same labels as int32, uint8, flat: the same numbers.
    let as_i32: Vec<i32> = labels.iter().map(|&l| l as i32).collect();
    let as_u8: Vec<u8> = labels.iter().map(|&l| l as u8).collect();
    save(d, "y32.npy", "<i4", &[12], &as_i32);
    save(d, "y8.npy", "|u1", &[2, 2, 3], &as_u8);
    for file in ["y32.npy", "y8.npy"] {
        assert_eq!(weights_ok(d, &["--labels", file]), out, "{file}");
    }
    // Booleans are classes 0 and 1.
    save(d, "yb.npy", "|b1", &[4], &[true, false, false, false]);
    let (json, _) = weights_json(d, &["--labels", "yb.npy"], &CLASS_KEYS);
    assert_eq!(json["counts"], serde_json::json!([3, 1]));

    // `--num-classes` adds a class no label has: an error unless `--absent zero`.
    weights_fails(d, &["--labels", "y.npy", "--num-classes", "4"],
        "error: weights: class 3 has no samples in `labels`, so its `inverse` weight would be infinite; set the absent policy to `zero` to give it weight 0 (`--absent zero`)\n");
    let (json, line) = weights_json(
        d,
        &[
            "--labels",
            "y.npy",
            "--num-classes",
            "4",
            "--absent",
            "zero",
        ],
        &CLASS_KEYS,
    );
    assert_eq!(json["counts"], serde_json::json!([6, 3, 3, 0]));
    assert_eq!(json["classes"], 4);
    assert_eq!(
        json_weights(&line),
        [12.0 / 18.0, 12.0 / 9.0, 12.0 / 9.0, 0.0]
    );
}

#[test]
fn pos_weight_from_multi_label_targets_and_from_counts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Five samples, three labels: positives 2, 2, 4.
    let targets = [
        1.0f32, 0.0, 1.0, //
        0.0, 0.0, 1.0, //
        1.0, 1.0, 1.0, //
        0.0, 0.0, 0.0, //
        0.0, 1.0, 1.0,
    ];
    f32s(d, "t.npy", &[5, 3], &targets);
    let table = format!(
        "pos_weight = negatives / positives: 3 labels, 5 samples\n\
         label  positives  negatives  pos_weight\n    \
         0          2          3    1.500000\n    \
         1          2          3    1.500000\n    \
         2          4          1    0.250000\n{HINT_POS}"
    );
    assert_eq!(
        weights_ok(d, &["--pos-weight", "--targets", "t.npy"]),
        table
    );
    let (json, line) = weights_json(d, &["--pos-weight", "--targets", "t.npy"], &POS_KEYS);
    assert_eq!(line, "{\"scheme\":\"pos_weight\",\"absent\":\"error\",\"labels\":3,\"total\":5,\"positives\":[2,2,4],\"negatives\":[3,3,1],\"weights\":[1.5,1.5,0.25]}\n");
    assert_eq!(json["labels"], 3);
    let library = losskit::weights::PosWeight::new()
        .from_targets(losskit::Tensor::new(&targets, &[5, 3]).unwrap())
        .unwrap();
    assert_eq!(json_weights(&line), library.weights());

    // The same targets as float64, int64, bool: the same table.
    let as_f64: Vec<f64> = targets.iter().map(|&t| f64::from(t)).collect();
    let as_i64: Vec<i64> = targets.iter().map(|&t| t as i64).collect();
    let as_bool: Vec<bool> = targets.iter().map(|&t| t == 1.0).collect();
    f64s(d, "t64.npy", &[5, 3], &as_f64);
    save(d, "ti.npy", "<i8", &[5, 3], &as_i64);
    save(d, "tb.npy", "|b1", &[5, 3], &as_bool);
    for file in ["t64.npy", "ti.npy", "tb.npy"] {
        assert_eq!(
            weights_ok(d, &["--pos-weight", "--targets", file]),
            table,
            "{file}"
        );
    }

    // `[N]` targets are one label.
    save(d, "t1.npy", "|u1", &[4], &[1u8, 0, 0, 0]);
    let (json, _) = weights_json(d, &["--pos-weight", "--targets", "t1.npy"], &POS_KEYS);
    assert_eq!(json["weights"], serde_json::json!([3.0]));
    assert!(weights_ok(d, &["--pos-weight", "--targets", "t1.npy"])
        .starts_with("pos_weight = negatives / positives: 1 label, 4 samples\n"));

    // From counts: PyTorch's example, 100 positives and 300 negatives give 3.
    let (_, line) = weights_json(
        d,
        &["--pos-weight", "--counts", "100,250", "--total", "400"],
        &POS_KEYS,
    );
    assert_eq!(line, "{\"scheme\":\"pos_weight\",\"absent\":\"error\",\"labels\":2,\"total\":400,\"positives\":[100,250],\"negatives\":[300,150],\"weights\":[3.0,0.6]}\n");

    // A label with no positives: an error, or 0 with `--absent zero`.
    save(d, "t0.npy", "|b1", &[2, 2], &[true, false, true, false]);
    weights_fails(d, &["--pos-weight", "--targets", "t0.npy"],
        "error: weights: label 1 has no positive samples in `targets`, so its `pos_weight` would be infinite; set the absent policy to `zero` to give it weight 0 (`--absent zero`)\n");
    assert_eq!(
        weights_ok(
            d,
            &["--pos-weight", "--targets", "t0.npy", "--absent", "zero"]
        ),
        format!(
            "pos_weight = negatives / positives, 0 for labels with no positives: 2 labels, 2 samples\n\
             label  positives  negatives  pos_weight\n    \
             0          2          0         0.0\n    \
             1          0          2         0.0\n{HINT_POS}"
        )
    );
}

#[test]
fn weights_out_writes_a_npy_for_eval() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = weights_ok(d, &["--counts", "900,90,10", "--out", "w.npy"]);
    assert!(
        out.ends_with(
            "\nwrote w.npy (float32, shape [3]): `losskit eval LOSS ... --input weight=w.npy`\n"
        ),
        "{out}"
    );
    let (descr, shape, data) = load::<f32>(&d.join("w.npy"));
    assert_eq!((descr.as_str(), shape.as_slice()), ("<f4", &[3u64][..]));
    assert_eq!(
        data,
        [
            (1000.0f64 / 2700.0) as f32,
            (1000.0f64 / 270.0) as f32,
            (1000.0f64 / 30.0) as f32
        ]
    );

    // float64 with `--dtype f64`, bit for bit the JSON numbers; JSON mode writes it too.
    let (_, line) = weights_json(
        d,
        &[
            "--counts",
            "900,90,10",
            "--scheme",
            "effective",
            "--out",
            "w64.npy",
            "--dtype",
            "f64",
        ],
        &CLASS_KEYS,
    );
    let (descr, shape, data) = load::<f64>(&d.join("w64.npy"));
    assert_eq!((descr.as_str(), shape.as_slice()), ("<f8", &[3u64][..]));
    assert_eq!(data, json_weights(&line));

    // pos_weight: the hint names the `pos_weight` input.
    f32s(
        d,
        "t.npy",
        &[4, 2],
        &[1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0],
    );
    let out = weights_ok(
        d,
        &["--pos-weight", "--targets", "t.npy", "--out", "pw.npy"],
    );
    assert!(out.ends_with("\nwrote pw.npy (float32, shape [2]): `losskit eval LOSS ... --input pos_weight=pw.npy`\n"), "{out}");
    let (_, shape, data) = load::<f32>(&d.join("pw.npy"));
    assert_eq!(
        (shape.as_slice(), data.as_slice()),
        (&[2u64][..], &[3.0f32, 1.0 / 3.0][..])
    );

    // Fed to `eval` as an element-wise weight: a [3] prediction, so the file fits.
    f32s(d, "x.npy", &[3], &[1.0, 2.0, 3.0]);
    f32s(d, "y.npy", &[3], &[0.0, 0.0, 0.0]);
    let w: Vec<f32> = load::<f32>(&d.join("w.npy")).2;
    let e = eval_ok(
        d,
        &[
            "mae",
            "--input",
            "input=x.npy",
            "--input",
            "target=y.npy",
            "--input",
            "weight=w.npy",
            "--reduction",
            "sum",
        ],
    );
    assert_eq!(e.f32(), w[0] + 2.0 * w[1] + 3.0 * w[2]);

    // An unwritable destination: status 2, nothing on stdout, no file.
    weights_fails(
        d,
        &["--counts", "1,2", "--out", "no-such-dir/w.npy"],
        "error: weights: cannot write the weights to no-such-dir/w.npy: No such file or directory (os error 2)\n",
    );
    // A failed computation writes nothing.
    weights_fails(d, &["--counts", "1,0", "--out", "never.npy"],
        "error: weights: class 1 has no samples in `counts`, so its `inverse` weight would be infinite; set the absent policy to `zero` to give it weight 0 (`--absent zero`)\n");
    assert!(!d.join("never.npy").exists());
    assert_eq!(
        files_in(d),
        ["pw.npy", "t.npy", "w.npy", "w64.npy", "x.npy", "y.npy"]
    );
}

#[test]
fn weights_errors_exit_2_with_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    save(d, "y.npy", "<i8", &[2, 3], &[0i64, 1, 2, 1, -1, 0]);
    save(d, "yf.npy", "<f4", &[2], &[0.0f32, 1.0]);
    save(d, "ybig.npy", "<i8", &[4], &[0i64, 1, 255, 1]);
    save(d, "empty.npy", "<i8", &[0], &[] as &[i64]);
    save(d, "t.npy", "<f8", &[2, 2], &[1.0f64, 0.0, 0.5, 1.0]);
    save(d, "t3.npy", "<f4", &[2, 2, 2], &[1.0f32; 8]);
    let zero = "error: weights: class 1 has no samples in `counts`, so its `inverse` weight would be infinite; set the absent policy to `zero` to give it weight 0 (`--absent zero`)\n";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--counts", "10,0,30"], zero),
        (vec!["--counts", "0,0", "--absent", "zero"],
            "error: weights: every class has count 0 in `counts`, so the `inverse` weights are undefined\n"),
        (vec!["--counts", ""], "error: weights: `counts` has shape [0], expected at least one class\n"),
        (vec!["--counts", "900,abc,10"],
            "error: invalid value '900,abc,10' for '--counts <N,N,...>': `abc` is not a count (a whole number >= 0)\nFor more information, try '--help'.\n"),
        (vec!["--counts", "1.5,2"],
            "error: invalid value '1.5,2' for '--counts <N,N,...>': `1.5` is not a count (a whole number >= 0)\nFor more information, try '--help'.\n"),
        (vec!["--counts", "-3,2"],
            "error: invalid value '-3,2' for '--counts <N,N,...>': `-3` is not a count (a whole number >= 0)\nFor more information, try '--help'.\n"),
        (vec!["--counts", "1,2", "--scheme", "effective", "--beta", "1"],
            "error: weights: `beta` must be in [0, 1), got 1\n"),
        (vec!["--counts", "1,2", "--scheme", "effective", "--beta", "-0.1"],
            "error: weights: `beta` must be in [0, 1), got -0.1\n"),
        (vec!["--counts", "1,2", "--scheme", "effective", "--beta", "nan"],
            "error: weights: `beta` must be in [0, 1), got NaN\n"),
        (vec!["--counts", "1,2", "--beta", "0.9"],
            "error: weights: `--beta` is the parameter of `--scheme effective`; the `inverse` scheme has none\n"),
        (vec!["--counts", "1,2", "--scheme", "inverse_sqrt", "--beta", "0.9"],
            "error: weights: `--beta` is the parameter of `--scheme effective`; the `inverse_sqrt` scheme has none\n"),
        (vec!["--labels", "y.npy"],
            "error: weights: `labels` at [1, 1] is -1, expected a class index >= 0\n"),
        (vec!["--labels", "y.npy", "--num-classes", "3"],
            "error: weights: `labels` at [1, 1] is -1, expected a class index in [0, `num_classes`)\n"),
        (vec!["--labels", "ybig.npy"],
            "error: weights: `labels` at [2] is 255, expected a class index below the number of labels when `num_classes` is inferred; pass `num_classes`\n"),
        (vec!["--labels", "ybig.npy", "--num-classes", "0"],
            "error: weights: `num_classes` must be at least 1, got 0\n"),
        (vec!["--labels", "empty.npy"],
            "error: weights: `labels` has shape [0], expected at least one label\n"),
        (vec!["--labels", "yf.npy"],
            "error: weights: `labels` has dtype float32, expected integer class indices (int32, int64, uint8 or bool); save them with `arr.astype(np.int64)`\n"),
        (vec!["--labels", "missing.npy"],
            "error: weights: cannot read `labels` from missing.npy: No such file or directory (os error 2)\n"),
        (vec!["--pos-weight", "--targets", "t.npy"],
            "error: weights: `targets` at [1, 0] is 0.5, expected 0 or 1\n"),
        (vec!["--pos-weight", "--targets", "t3.npy"],
            "error: weights: `targets` has shape [2, 2, 2], expected `[N]` or `[N, L]` with N, L >= 1\n"),
        (vec!["--pos-weight", "--counts", "1,11", "--total", "10"],
            "error: weights: `positives` at [1] is 11, expected at most `total`\n"),
        (vec!["--pos-weight", "--counts", "1", "--total", "0"],
            "error: weights: `total` must be at least 1 (the number of samples), got 0\n"),
        (vec!["--pos-weight", "--counts", "1,2"],
            "error: weights: `--pos-weight --counts` takes the positive count of each label; pass the number of samples with `--total N`\n"),
        (vec!["--pos-weight", "--labels", "y.npy"],
            "error: weights: `--pos-weight` reads 0/1 targets from `--targets FILE` (or positive counts from `--counts P,P,... --total N`); `--labels` holds class indices, for class weights\n"),
        // Usage errors, from clap.
        (vec![],
            "error: the following required arguments were not provided: <--counts <N,N,...>|--labels <FILE>|--targets <FILE>>\nFor more information, try '--help'.\n"),
        (vec!["--counts", "1,2", "--labels", "y.npy"],
            "error: the argument '--counts <N,N,...>' cannot be used with '--labels <FILE>'\nFor more information, try '--help'.\n"),
        (vec!["--targets", "t.npy"],
            "error: the following required arguments were not provided: --pos-weight\nFor more information, try '--help'.\n"),
        (vec!["--pos-weight", "--targets", "t.npy", "--normalize"],
            "error: the argument '--pos-weight' cannot be used with '--normalize'\nFor more information, try '--help'.\n"),
        (vec!["--counts", "1,2", "--dtype", "f64"],
            "error: the following required arguments were not provided: --out <FILE>\nFor more information, try '--help'.\n"),
        (vec!["--counts", "1,2", "--total", "3"],
            "error: the following required arguments were not provided: --pos-weight\nFor more information, try '--help'.\n"),
        (vec!["--counts", "1,2", "--scheme", "log"],
            "error: invalid value 'log' for '--scheme <SCHEME>' [possible values: inverse, inverse_sqrt, effective]\nFor more information, try '--help'.\n"),
    ];
    for (args, stderr) in cases {
        weights_fails(d, &args, stderr);
    }
}

#[test]
fn weights_help_shows_the_real_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = losskit(d, &["weights", "--help"]);
    assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""));
    let (_, class) = weights_json(d, &["--counts", "900,90,10"], &CLASS_KEYS);
    let (_, pos) = weights_json(
        d,
        &["--pos-weight", "--counts", "1,2", "--total", "4"],
        &POS_KEYS,
    );
    for line in [class, pos] {
        assert!(
            run.stdout.contains(&format!("\n  {line}")),
            "{line}{}",
            run.stdout
        );
    }
}
