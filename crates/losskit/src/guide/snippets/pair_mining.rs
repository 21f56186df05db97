//! Labelled embeddings, every pair of the batch (by name; `mean` is their only reduction):
//! multi-similarity (α 2, β 50, base 0.5), circle (m 0.4, γ 80), lifted structure; and the
//! N-pair loss on one (anchor, positive) pair per class.
use losskit::{evaluate, ArrayData, NamedArray, ReductionMode};

pub fn run() -> losskit::Result<f64> {
    let embeddings = [1.0f32, 0.0, 0.9, 0.2, 0.0, 1.0, 0.1, 0.8]; // [N = 4, D = 2]
    let labels = [0i64, 0, 1, 1];
    let inputs = [
        NamedArray {
            name: "embeddings",
            data: ArrayData::F32(&embeddings),
            dims: &[4, 2],
        },
        NamedArray {
            name: "labels",
            data: ArrayData::I64(&labels),
            dims: &[4],
        },
    ];
    let mut total = 0.0;
    for (loss, params) in [
        (
            "multi_similarity",
            &[("alpha", "2"), ("beta", "50"), ("base", "0.5")][..],
        ),
        ("circle", &[("m", "0.4"), ("gamma", "80")][..]),
        ("lifted_structure", &[("neg_margin", "1")][..]),
    ] {
        let e = evaluate(loss, &inputs, params, ReductionMode::Mean, &["embeddings"])?;
        total += e.value.unwrap_or(f64::NAN);
    }
    // N-pair: row i of `anchor` and of `positive` are the one pair of class i.
    let (anchor, positive) = ([1.0f32, 0.0, 0.0, 1.0], [0.9f32, 0.2, 0.1, 0.8]);
    let pairs = [
        NamedArray {
            name: "anchor",
            data: ArrayData::F32(&anchor),
            dims: &[2, 2],
        },
        NamedArray {
            name: "positive",
            data: ArrayData::F32(&positive),
            dims: &[2, 2],
        },
    ];
    let e = evaluate(
        "npairs",
        &pairs,
        &[],
        ReductionMode::Mean,
        &["anchor", "positive"],
    )?;
    Ok(total + e.value.unwrap_or(f64::NAN))
}
