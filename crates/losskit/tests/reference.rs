//! Reference cases: every `tests/reference/*.json` (tools/reference/FORMAT.md), run through
//! `losskit::evaluate` in f32 and f64 for every reduction the case lists.
//!
//! Failures are collected over all files and reported together, each with its case id,
//! dtype, reduction, element, expected and actual value.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use common::tolerance::{self, Tol, Tolerances};
use losskit::{
    catalogue, ArrayData, Dtype, Evaluation, Family, FloatArray, NamedArray, ReductionMode,
};
use serde::Deserialize;
use serde_json::Value;

/// Families whose reference file must exist (and cover every loss of the family).
const REQUIRED: &[Family] = &[
    Family::Regression,
    Family::Classification,
    Family::MetricLearning,
    Family::Segmentation,
    Family::Detection,
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    generator: String,
    tools: BTreeMap<String, String>,
    cases: Vec<Case>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    id: String,
    loss: String,
    tool: String,
    call: String,
    #[serde(default)]
    params: BTreeMap<String, String>,
    inputs: BTreeMap<String, Input>,
    #[serde(default)]
    expected: Option<BTreeMap<String, BTreeMap<String, Expected>>>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    tolerance: Option<Override>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    dtype: String,
    shape: Vec<usize>,
    data: Vec<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    #[serde(default)]
    value: Option<Num>,
    #[serde(default)]
    values: Option<Vec<Num>>,
    #[serde(default)]
    grads: BTreeMap<String, Vec<Num>>,
}

/// A float as the format writes it: a number, or `"inf"`, `"-inf"`, `"nan"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Num {
    Finite(f64),
    Word(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Override {
    #[serde(default)]
    f32: Option<TolOverride>,
    #[serde(default)]
    f64: Option<TolOverride>,
    why: String,
}

/// A per-case tolerance (multiples of ε, like the defaults), for every kind of number.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct TolOverride {
    rel: f64,
    abs: f64,
}

fn num(n: &Num) -> Result<f64, String> {
    match n {
        Num::Finite(v) => Ok(*v),
        Num::Word(w) => match w.as_str() {
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            "nan" => Ok(f64::NAN),
            _ => Err(format!(
                "`{w}` is not a number, \"inf\", \"-inf\" or \"nan\""
            )),
        },
    }
}

fn nums(v: &[Num]) -> Result<Vec<f64>, String> {
    v.iter().map(num).collect()
}

/// An input array in the dtype one pass gives it.
enum Store {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    U8(Vec<u8>),
    Bool(Vec<bool>),
}

impl Store {
    fn new(input: &Input, dtype: Dtype) -> Result<Store, String> {
        let ints = || -> Result<Vec<i64>, String> {
            input
                .data
                .iter()
                .map(|v| v.as_i64().ok_or_else(|| format!("{v} is not an integer")))
                .collect()
        };
        Ok(match input.dtype.as_str() {
            "float" => {
                let v: Vec<f64> = input
                    .data
                    .iter()
                    .map(|v| {
                        Num::deserialize(v)
                            .map_err(|e| e.to_string())
                            .and_then(|n| num(&n))
                    })
                    .collect::<Result<_, _>>()?;
                // Both passes must see the same numbers: float inputs are float32-representable.
                if let Some(x) = v.iter().find(|&&x| f64::from(x as f32) != x && !x.is_nan()) {
                    return Err(format!("{x:e} is not representable in float32"));
                }
                match dtype {
                    Dtype::F32 => Store::F32(v.iter().map(|&x| x as f32).collect()),
                    Dtype::F64 => Store::F64(v),
                }
            }
            "int64" => Store::I64(ints()?),
            "int32" => Store::I32(narrow(ints()?)?),
            "uint8" => Store::U8(narrow(ints()?)?),
            "bool" => Store::Bool(
                input
                    .data
                    .iter()
                    .map(|v| v.as_bool().ok_or_else(|| format!("{v} is not a bool")))
                    .collect::<Result<_, _>>()?,
            ),
            other => return Err(format!("unknown input dtype `{other}`")),
        })
    }

    fn data(&self) -> ArrayData<'_> {
        match self {
            Store::F32(v) => ArrayData::F32(v),
            Store::F64(v) => ArrayData::F64(v),
            Store::I64(v) => ArrayData::I64(v),
            Store::I32(v) => ArrayData::I32(v),
            Store::U8(v) => ArrayData::U8(v),
            Store::Bool(v) => ArrayData::Bool(v),
        }
    }
}

fn narrow<T: TryFrom<i64>>(v: Vec<i64>) -> Result<Vec<T>, String> {
    v.into_iter()
        .map(|x| T::try_from(x).map_err(|_| format!("{x} is out of range")))
        .collect()
}

fn dtype_of(name: &str) -> Option<Dtype> {
    match name {
        "f32" => Some(Dtype::F32),
        "f64" => Some(Dtype::F64),
        _ => None,
    }
}

fn as_f64(a: &FloatArray) -> Vec<f64> {
    match a {
        FloatArray::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        FloatArray::F64(v) => v.clone(),
        other => other.to_f64(),
    }
}

/// What a run found: failures, counts, and how much of each tolerance the worst match used.
#[derive(Default)]
struct Report {
    failures: Vec<String>,
    checks: usize,
    error_checks: usize,
    cases: usize,
    worst: BTreeMap<String, (f64, String)>,
}

impl Report {
    fn fail(&mut self, msg: String) {
        self.failures.push(msg);
    }
}

/// One pass of a case: its dtype and reduction, for messages.
struct Pass<'a> {
    case: &'a Case,
    dtype: Dtype,
    reduction: &'a str,
}

impl Pass<'_> {
    fn at(&self) -> String {
        format!(
            "{} [{} {}]",
            self.case.id,
            self.dtype.name(),
            self.reduction
        )
    }

    /// Compares `actual` with `expected` element by element. A mismatching array is one
    /// failure, listing its first few bad elements, how many more there are, and the call.
    fn compare(
        &self,
        r: &mut Report,
        what: &str,
        expected: &[f64],
        actual: &[f64],
        tol: Tol,
        scale: f64,
    ) {
        const SHOWN: usize = 3;
        if expected.len() != actual.len() {
            r.fail(format!(
                "{}: {what}: {} elements, expected {}",
                self.at(),
                actual.len(),
                expected.len()
            ));
            return;
        }
        let eps = tolerance::eps(self.dtype);
        let key = format!("{} {what}", self.dtype.name());
        let (mut bad, mut msg) = (0, String::new());
        for (i, (&e, &a)) in expected.iter().zip(actual).enumerate() {
            let used = tolerance::used(e, a, tol, eps, scale);
            let elem = if what == "value" {
                String::new()
            } else {
                format!("[{i}]")
            };
            if used > 1.0 {
                bad += 1;
                if bad <= SHOWN {
                    let _ = write!(
                        msg,
                        "\n    {what}{elem}: expected {e:e}, got {a:e} (|diff| {:e}: {used:.3e} × the tolerance {}ε·|e| + {}ε·{scale:e})",
                        (a - e).abs(),
                        tol.rel,
                        tol.abs,
                    );
                }
            } else if used.is_finite() {
                let w = r.worst.entry(key.clone()).or_insert((0.0, String::new()));
                if used > w.0 {
                    *w = (used, format!("{}{elem}", self.at()));
                }
            }
        }
        if bad > 0 {
            if bad > SHOWN {
                let _ = write!(msg, "\n    … and {} more elements", bad - SHOWN);
            }
            r.fail(format!(
                "{}: {what} differs in {bad} of {} elements:{msg}\n    call: {}",
                self.at(),
                expected.len(),
                self.case.call
            ));
        }
    }
}

fn tolerances(case: &Case, dtype: Dtype) -> Tolerances {
    let over = case.tolerance.as_ref().and_then(|o| match dtype {
        Dtype::F32 => o.f32,
        Dtype::F64 => o.f64,
    });
    match over {
        Some(t) => {
            let t = Tol {
                rel: t.rel,
                abs: t.abs,
            };
            Tolerances {
                value: t,
                values: t,
                grads: t,
            }
        }
        None => tolerance::defaults(dtype),
    }
}

/// Evaluates `case` in `dtype` with `reduction`, asking for `grads`.
fn run(
    case: &Case,
    dtype: Dtype,
    reduction: ReductionMode,
    grads: &[&str],
) -> Result<losskit::Result<Evaluation>, String> {
    let stores = case
        .inputs
        .iter()
        .map(|(name, input)| Store::new(input, dtype).map_err(|e| format!("input `{name}`: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let arrays: Vec<NamedArray<'_>> = case
        .inputs
        .iter()
        .zip(&stores)
        .map(|((name, input), s)| NamedArray {
            name,
            data: s.data(),
            dims: &input.shape,
        })
        .collect();
    let params: Vec<(&str, &str)> = case
        .params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    Ok(losskit::evaluate(
        &case.loss, &arrays, &params, reduction, grads,
    ))
}

fn check_expected(
    case: &Case,
    expected: &BTreeMap<String, BTreeMap<String, Expected>>,
    r: &mut Report,
) {
    if expected.is_empty() {
        r.fail(format!("{}: `expected` lists no dtype", case.id));
    }
    for (dname, by_reduction) in expected {
        let Some(dtype) = dtype_of(dname) else {
            r.fail(format!(
                "{}: unknown dtype `{dname}` (expected `f32` or `f64`)",
                case.id
            ));
            continue;
        };
        let tol = tolerances(case, dtype);
        // The per-element values of the same dtype, for the scale of the reduced values.
        let none_scale = by_reduction
            .get("none")
            .and_then(|e| e.values.as_deref())
            .and_then(|v| nums(v).ok())
            .map_or(0.0, tolerance::scale);
        for (rname, exp) in by_reduction {
            let pass = Pass {
                case,
                dtype,
                reduction: rname,
            };
            let Ok(reduction) = rname.parse::<ReductionMode>() else {
                r.fail(format!("{}: unknown reduction `{rname}`", pass.at()));
                continue;
            };
            r.checks += 1;
            let grads: Vec<&str> = exp.grads.keys().map(String::as_str).collect();
            let ev = match run(case, dtype, reduction, &grads) {
                Err(e) => {
                    r.fail(format!("{}: bad case: {e}", pass.at()));
                    continue;
                }
                Ok(Err(e)) => {
                    r.fail(format!("{}: evaluate failed: {e}", pass.at()));
                    continue;
                }
                Ok(Ok(ev)) => ev,
            };
            if ev.dtype != dtype {
                r.fail(format!("{}: computed in {}", pass.at(), ev.dtype.name()));
            }
            match (reduction, &exp.value, &exp.values) {
                (ReductionMode::None, None, Some(values)) => {
                    match (nums(values), &ev.per_element) {
                        (Ok(e), Some(a)) => {
                            let scale = tolerance::scale(e.iter().copied());
                            pass.compare(r, "values", &e, &as_f64(a), tol.values, scale);
                        }
                        (Err(e), _) => r.fail(format!("{}: values: {e}", pass.at())),
                        (_, None) => {
                            r.fail(format!("{}: no per-element values returned", pass.at()))
                        }
                    }
                }
                (ReductionMode::None, ..) => r.fail(format!(
                    "{}: `none` needs `values` (and no `value`)",
                    pass.at()
                )),
                (_, Some(value), None) => match (num(value), ev.value) {
                    (Ok(e), Some(a)) => {
                        pass.compare(
                            r,
                            "value",
                            &[e],
                            &[a],
                            tol.value,
                            tolerance::scale([e]).max(none_scale),
                        );
                    }
                    (Err(e), _) => r.fail(format!("{}: value: {e}", pass.at())),
                    (_, None) => r.fail(format!("{}: no reduced value returned", pass.at())),
                },
                _ => r.fail(format!(
                    "{}: `{rname}` needs `value` (and no `values`)",
                    pass.at()
                )),
            }
            for (name, g) in &exp.grads {
                let what = format!("grad `{name}`");
                match (nums(g), ev.grads.iter().find(|(n, _)| n == name)) {
                    (Ok(e), Some((_, a))) => {
                        let scale = tolerance::scale(e.iter().copied());
                        pass.compare(r, &what, &e, &as_f64(a), tol.grads, scale);
                    }
                    (Err(e), _) => r.fail(format!("{}: {what}: {e}", pass.at())),
                    (_, None) => r.fail(format!("{}: {what} not returned", pass.at())),
                }
            }
        }
    }
}

fn check_error(case: &Case, needle: &str, r: &mut Report) {
    let Ok(info) = losskit::find(&case.loss) else {
        r.fail(format!("{}: unknown loss `{}`", case.id, case.loss));
        return;
    };
    // Every prediction the case gives as floats, so gradient paths are checked too.
    let grads: Vec<&str> = info
        .predictions()
        .into_iter()
        .filter(|p| case.inputs.get(*p).is_some_and(|i| i.dtype == "float"))
        .collect();
    for dtype in [Dtype::F32, Dtype::F64] {
        let pass = Pass {
            case,
            dtype,
            reduction: "mean",
        };
        r.error_checks += 1;
        match run(case, dtype, ReductionMode::Mean, &grads) {
            Err(e) => r.fail(format!("{}: bad case: {e}", pass.at())),
            Ok(Ok(ev)) => r.fail(format!(
                "{}: expected an error containing {needle:?}, got {:?}",
                pass.at(),
                ev.value
            )),
            Ok(Err(e)) if !e.to_string().contains(needle) => r.fail(format!(
                "{}: expected an error containing {needle:?}, got \"{e}\"",
                pass.at()
            )),
            Ok(Err(_)) => {}
        }
    }
}

fn check_case(case: &Case, r: &mut Report) {
    r.cases += 1;
    if case.tool.is_empty() || (case.call.is_empty() && case.error.is_none()) {
        r.fail(format!(
            "{}: `tool` and `call` must say where the numbers come from",
            case.id
        ));
    }
    if case
        .tolerance
        .as_ref()
        .is_some_and(|t| t.why.trim().is_empty())
    {
        r.fail(format!(
            "{}: a tolerance override needs a reason (`why`)",
            case.id
        ));
    }
    match (&case.expected, &case.error) {
        (Some(expected), None) => check_expected(case, expected, r),
        (None, Some(needle)) => check_error(case, needle, r),
        _ => r.fail(format!(
            "{}: a case has exactly one of `expected` and `error`",
            case.id
        )),
    }
}

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("reference")
}

fn load() -> Vec<(String, File)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(reference_dir())
        .expect("tests/reference exists")
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let stem = p
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned();
            let text =
                std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let file: File =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (stem, file)
        })
        .collect()
}

/// Runs every case of `files`.
fn check_files(files: &[(String, File)]) -> Report {
    let mut r = Report::default();
    let mut ids = BTreeSet::new();
    for (stem, file) in files {
        if file.generator.is_empty() || !file.tools.contains_key("python") {
            r.fail(format!(
                "{stem}.json: `generator` and `tools` (with `python`) must be filled in"
            ));
        }
        for case in &file.cases {
            if !ids.insert(case.id.clone()) {
                r.fail(format!("{stem}.json: case id `{}` appears twice", case.id));
            }
            check_case(case, &mut r);
        }
    }
    r
}

/// The tile budget of the in-batch contrastive losses is process-wide: the tests that run
/// them take turns, so each knows which way they compute.
static TILE_BUDGET: Mutex<()> = Mutex::new(());

#[test]
fn every_reference_case_matches() {
    let _budget = TILE_BUDGET.lock().unwrap_or_else(|e| e.into_inner());
    let files = load();
    let r = check_files(&files);
    let mut summary = format!(
        "{} files, {} cases, {} (case, dtype, reduction) checks, {} error checks; worst use of the tolerance:",
        files.len(),
        r.cases,
        r.checks,
        r.error_checks
    );
    for (what, (used, at)) in &r.worst {
        let _ = write!(summary, "\n  {what}: {:.0}% at {at}", used * 100.0);
    }
    println!("{summary}");
    if !r.failures.is_empty() {
        panic!(
            "{} reference failures:\n{}",
            r.failures.len(),
            r.failures.join("\n")
        );
    }
}

/// `nt_xent`, `info_nce` and `supcon` keep their similarity matrix when it fits the tile
/// budget (every reference case does at the default 64 MiB, so the test above checks that
/// way); with a budget of 0 they recompute it tile by tile, and match the references too.
#[test]
fn contrastive_cases_match_with_the_matrix_recomputed() {
    let _budget = TILE_BUDGET.lock().unwrap_or_else(|e| e.into_inner());
    let files: Vec<(String, File)> = load()
        .into_iter()
        .map(|(stem, mut file)| {
            file.cases
                .retain(|c| matches!(c.loss.as_str(), "nt_xent" | "info_nce" | "supcon"));
            (stem, file)
        })
        .filter(|(_, f)| !f.cases.is_empty())
        .collect();
    let before = losskit::tile_budget();
    losskit::set_tile_budget(0);
    let r = check_files(&files);
    losskit::set_tile_budget(before);
    assert!(r.cases >= 20, "{} contrastive cases", r.cases);
    assert!(
        r.failures.is_empty(),
        "{} reference failures with the matrix recomputed:\n{}",
        r.failures.len(),
        r.failures.join("\n")
    );
}

#[test]
fn every_loss_has_reference_cases() {
    let files = load();
    let mut problems = Vec::new();
    for (stem, file) in &files {
        let named: BTreeSet<&str> = file.cases.iter().map(|c| c.loss.as_str()).collect();
        let valued: BTreeSet<&str> = file
            .cases
            .iter()
            .filter(|c| c.expected.is_some())
            .map(|c| c.loss.as_str())
            .collect();
        if file.cases.is_empty() {
            problems.push(format!("{stem}.json has no cases"));
        }
        for loss in named.difference(&valued) {
            problems.push(format!("{stem}.json: `{loss}` has error cases only"));
        }
    }
    // The files of a family (`regression.json`, `classification_binary.json`, …) together
    // cover every loss of that family in the catalogue.
    let of_family = |stem: &str, family: &str| {
        stem == family
            || stem
                .strip_prefix(family)
                .is_some_and(|r| r.starts_with('_'))
    };
    let families: BTreeSet<&str> = catalogue().map(|l| l.family.name()).collect();
    for family in families {
        let files_of: Vec<_> = files
            .iter()
            .filter(|(stem, _)| of_family(stem, family))
            .collect();
        if files_of.is_empty() {
            if REQUIRED.iter().any(|f| f.name() == family) {
                problems.push(format!("no tests/reference/{family}*.json file"));
            }
            continue;
        }
        let valued: BTreeSet<&str> = files_of
            .iter()
            .flat_map(|(_, f)| f.cases.iter())
            .filter(|c| c.expected.is_some())
            .map(|c| c.loss.as_str())
            .collect();
        for info in catalogue().filter(|l| l.family.name() == family) {
            if !valued.contains(info.name) {
                problems.push(format!("{family}: no reference case for `{}`", info.name));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The harness itself can fail: a nudged expected number, a wrong infinity, a wrong error
/// message and a missing gradient are all reported.
#[test]
fn the_harness_catches_wrong_numbers() {
    let files = load();
    let (_, file) = files
        .iter()
        .find(|(s, _)| s == "regression")
        .expect("regression.json");
    let case = |id: &str| file.cases.iter().find(|c| c.id == id).cloned().expect(id);
    fn entry<'a>(c: &'a mut Case, dtype: &str, reduction: &str) -> &'a mut Expected {
        let e = c.expected.as_mut().and_then(|e| e.get_mut(dtype));
        e.and_then(|e| e.get_mut(reduction))
            .expect("an expected entry")
    }
    let report = |c: &Case| {
        let mut r = Report::default();
        check_case(c, &mut r);
        r.failures
    };
    let failures = |c: &Case| report(c).len();

    let good = case("huber/default/mixed");
    assert_eq!(failures(&good), 0);

    let mut c = good.clone();
    let e = entry(&mut c, "f64", "mean");
    let Some(Num::Finite(v)) = e.value else {
        panic!("finite mean")
    };
    e.value = Some(Num::Finite(v * (1.0 + 1e-12)));
    assert_eq!(failures(&c), 1, "a relative error of 1e-12 in an f64 mean");
    c.tolerance = Some(Override {
        f32: None,
        f64: Some(TolOverride { rel: 1e4, abs: 0.0 }),
        why: "a per-case override".into(),
    });
    assert_eq!(
        failures(&c),
        0,
        "the same within a per-case tolerance of 1e4 ε"
    );

    let mut c = good.clone();
    let e = entry(&mut c, "f32", "none");
    e.grads.get_mut("input").expect("grad")[3] = Num::Word("inf".into());
    assert_eq!(
        failures(&c),
        1,
        "an infinite gradient where a finite one is computed"
    );

    let mut c = good.clone();
    let e = entry(&mut c, "f64", "sum");
    e.grads.insert("target".into(), vec![Num::Finite(0.0); 12]);
    assert_eq!(failures(&c), 1, "a gradient asked for a target");

    let mut c = case("mse/default/non-finite");
    let e = entry(&mut c, "f64", "none");
    let values = e.values.as_mut().expect("values");
    values[3] = Num::Finite(0.0); // NaN expected there
    values[0] = Num::Word("-inf".into()); // inf expected there
    let f = report(&c);
    assert_eq!(f.len(), 1, "NaN and inf expected: {f:?}");
    assert!(f[0].contains("differs in 2 of 6 elements"), "{}", f[0]);

    let mut c = case("gaussian_nll/error/negative-var");
    c.error = Some("`var` at [0, 2]".into());
    assert_eq!(failures(&c), 2, "a wrong error message, in both dtypes");
}
