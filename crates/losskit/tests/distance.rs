//! The distance transform against SciPy: `tests/reference/distance/edt.json`
//! (`tools/reference/segmentation.py`), compared bit for bit, plain and signed.

use losskit::{distance, Tensor};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    generator: String,
    tools: std::collections::BTreeMap<String, String>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    id: String,
    call: String,
    shape: Vec<usize>,
    spacing: Option<Vec<f64>>,
    mask: Vec<u8>,
    edt: Vec<f64>,
    signed: Vec<f64>,
}

#[test]
fn edt_and_signed_maps_equal_scipy_bit_for_bit() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/distance/edt.json"
    );
    let file: File = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(file.generator.ends_with("segmentation.py") && file.tools.contains_key("scipy"));
    assert!(file.cases.len() >= 10);
    let mut failures = Vec::new();
    for c in &file.cases {
        assert!(c.call.contains("distance_transform_edt"), "{}", c.id);
        let mask: Vec<bool> = c.mask.iter().map(|&m| m != 0).collect();
        let t = Tensor::new(&mask, &c.shape).unwrap();
        let sp = c.spacing.as_deref();
        for (what, got, want) in [
            ("edt", distance::edt(t, sp).unwrap(), &c.edt),
            (
                "signed",
                distance::signed_distance(t, sp).unwrap(),
                &c.signed,
            ),
        ] {
            if let Some(i) = (0..want.len()).find(|&i| got[i].to_bits() != want[i].to_bits()) {
                failures.push(format!(
                    "{} {what} at {i}: {} vs scipy {}",
                    c.id, got[i], want[i]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
