//! `losskit::weights` against the reference values of `tools/reference/weights.py`
//! (`tests/reference/weights/weights.json`, format documented at the top of that script).
//!
//! Cases marked `exact` (scikit-learn's unnormalised `inverse` weights, their `np.sqrt`,
//! numpy's `pos_weight`) must match bit for bit: losskit performs the same correctly
//! rounded operations in the same order. The others are compared with a relative tolerance
//! of [`REL`].

use losskit::weights::{Absent, ClassWeights, PosWeight, Scheme};
use losskit::Tensor;
use serde_json::Value;

/// Relative tolerance for the non-exact cases: 1e-13 ≈ 450 ulp.
///
/// The expected `effective` values are the exact ones (60-digit decimal) rounded once; losskit
/// computes $(1-\beta)/(-\operatorname{expm1}(n\ln\beta))$ in f64: `ln`, the product, `expm1`
/// and the division each add at most ~1 ulp, and the condition number of
/// $x \mapsto 1 - e^{x}$ is at most 1 for $x \le 0$, so ≲ 4 ulp. Normalising adds a sum of
/// $K \le 5$ positive terms, a division and a product: ≲ 8 more. The bound is ~30× that
/// worst case, and 100× below the 1.5e-11 error of the naive `1 - beta.powf(n)` on the
/// `beta=1-1e-6` cases, which this test is there to catch.
const REL: f64 = 1e-13;

fn cases() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/weights/weights.json"
    );
    let text = std::fs::read_to_string(path).expect("tests/reference/weights/weights.json");
    let doc: Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(doc["generator"], "tools/reference/weights.py");
    doc["weights_cases"]
        .as_array()
        .expect("`weights_cases` array")
        .clone()
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("u64"))
        .collect()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn dims(v: &Value) -> Vec<usize> {
    u64s(v).into_iter().map(|d| d as usize).collect()
}

fn absent(case: &Value) -> Absent {
    match case["absent"].as_str() {
        Some("error") => Absent::Error,
        Some("zero") => Absent::Zero,
        other => panic!("absent {other:?}"),
    }
}

/// What a case produced.
#[derive(Debug)]
struct Got {
    /// Class counts, or positives for `pos_weight`.
    counts: Vec<u64>,
    /// Negatives for `pos_weight`, empty for class weights.
    negatives: Vec<u64>,
    weights: Vec<f64>,
}

/// Runs a case; `Err` is the error's message.
fn run(case: &Value) -> Result<Got, String> {
    let input = &case["input"];
    match case["kind"].as_str() {
        Some("class") => {
            let scheme = match case["scheme"].as_str() {
                Some("inverse") => Scheme::Inverse,
                Some("inverse_sqrt") => Scheme::InverseSqrt,
                Some("effective") => Scheme::Effective {
                    beta: case["beta"].as_f64().unwrap(),
                },
                other => panic!("scheme {other:?}"),
            };
            let cw = ClassWeights::new(scheme)
                .map_err(|e| e.to_string())?
                .normalize(case["normalize"].as_bool().unwrap())
                .absent(absent(case));
            let table = if let Some(counts) = input.get("counts") {
                cw.from_counts(&u64s(counts))
            } else {
                let labels = &input["labels"];
                let data: Vec<i64> = labels["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_i64().unwrap())
                    .collect();
                let shape = dims(&labels["shape"]);
                let num_classes = input["num_classes"].as_u64().map(|c| c as usize);
                cw.from_labels(Tensor::new(&data, &shape).unwrap(), num_classes)
            }
            .map_err(|e| e.to_string())?;
            assert_eq!(table.scheme(), scheme);
            assert_eq!(table.total(), table.counts().iter().sum::<u64>());
            Ok(Got {
                counts: table.counts().to_vec(),
                negatives: Vec::new(),
                weights: table.into_weights(),
            })
        }
        Some("pos_weight") => {
            let pw = PosWeight::new().absent(absent(case));
            let table = if let Some(t) = input.get("targets") {
                let data = f64s(&t["data"]);
                // Targets are 0/1: the same in f32 and f64.
                let data32: Vec<f32> = data.iter().map(|&x| x as f32).collect();
                let t64 = pw.from_targets(Tensor::new(&data, &dims(&t["shape"])).unwrap());
                let t32 = pw.from_targets(Tensor::new(&data32, &dims(&t["shape"])).unwrap());
                assert_eq!(t64, t32);
                t64
            } else {
                pw.from_counts(&u64s(&input["positives"]), input["total"].as_u64().unwrap())
            }
            .map_err(|e| e.to_string())?;
            Ok(Got {
                counts: table.positives().to_vec(),
                negatives: table.negatives().to_vec(),
                weights: table.into_weights(),
            })
        }
        other => panic!("kind {other:?}"),
    }
}

#[test]
fn reference_values() {
    let cases = cases();
    let (mut exact, mut close, mut errors) = (0, 0, 0);
    let mut worst = (0.0f64, String::new());
    for case in &cases {
        let id = case["id"].as_str().unwrap();
        let got = run(case);
        if let Some(want) = case.get("error") {
            let msg = got.expect_err(id);
            assert!(
                msg.contains(want.as_str().unwrap()),
                "{id}: got error {msg:?}"
            );
            errors += 1;
            continue;
        }
        let Got {
            counts,
            negatives,
            weights,
        } = got.unwrap_or_else(|e| panic!("{id}: {e}"));
        let expected = &case["expected"];
        let want = f64s(&expected["weights"]);
        if case["kind"] == "class" {
            assert_eq!(counts, u64s(&expected["counts"]), "{id}: counts");
        } else {
            assert_eq!(counts, u64s(&expected["positives"]), "{id}: positives");
            assert_eq!(negatives, u64s(&expected["negatives"]), "{id}: negatives");
        }
        assert_eq!(weights.len(), want.len(), "{id}");
        assert!(
            weights.iter().all(|w| w.is_finite() && *w >= 0.0),
            "{id}: {weights:?}"
        );
        if case["exact"].as_bool() == Some(true) {
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&weights), bits(&want), "{id}: {weights:?} vs {want:?}");
            exact += 1;
        } else {
            for (c, (&g, &w)) in weights.iter().zip(&want).enumerate() {
                let rel = if w == 0.0 {
                    g.abs()
                } else {
                    ((g - w) / w).abs()
                };
                assert!(
                    rel <= REL,
                    "{id}: class {c}: {g:e} vs {w:e} (relative {rel:e})"
                );
                if rel > worst.0 {
                    worst = (rel, format!("{id} class {c}"));
                }
            }
            close += 1;
        }
    }
    // The file is not silently empty or truncated.
    assert!(
        exact >= 15 && close >= 20 && errors >= 5,
        "{exact} exact, {close} close, {errors} errors"
    );
    println!(
        "{} cases: {exact} exact, {close} within {REL:e} (worst {:e}, {}), {errors} errors",
        cases.len(),
        worst.0,
        worst.1
    );
}
