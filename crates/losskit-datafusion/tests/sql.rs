//! The SQL functions against the core, partition independence, errors and docs.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, FixedSizeListArray, Float32Array, Float64Array, Int64Array, RecordBatch,
    StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::*;
use losskit::sample::{Rng, SampleData};
use losskit::{evaluate_with, Dtype, NamedArray, Params, ReductionMode};

fn ctx(partitions: usize) -> SessionContext {
    let cfg = SessionConfig::new()
        .with_target_partitions(partitions)
        .with_information_schema(true);
    let ctx = SessionContext::new_with_config(cfg);
    losskit_datafusion::register_all(&ctx);
    ctx
}

async fn one_f64(ctx: &SessionContext, sql: &str) -> Option<f64> {
    let batches = ctx
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let b = batches.iter().find(|b| b.num_rows() > 0)?;
    let c = b.column(0).as_any().downcast_ref::<Float64Array>().unwrap();
    (!c.is_null(0)).then(|| c.value(0))
}

async fn error(ctx: &SessionContext, sql: &str) -> String {
    let r = match ctx.sql(sql).await {
        Ok(df) => df.collect().await.map(|_| ()),
        Err(e) => Err(e),
    };
    r.expect_err(sql).find_root().to_string()
}

fn column(data: &SampleData, dims: &[usize]) -> ArrayRef {
    let flat: ArrayRef = match data {
        SampleData::Float(v) => Arc::new(Float64Array::from(v.clone())),
        SampleData::Index(v) => Arc::new(Int64Array::from(v.clone())),
    };
    if dims.len() == 1 {
        return flat;
    }
    let field = Arc::new(Field::new("item", flat.data_type().clone(), false));
    Arc::new(FixedSizeListArray::new(field, dims[1] as i32, flat, None))
}

/// Every generated function gives the core's mean on the loss's own sample.
#[tokio::test]
async fn every_aggregate_matches_the_core_mean() {
    let specs = losskit_datafusion::specs();
    let names: Vec<&str> = specs.iter().map(|s| s.info.name).collect();
    for must in [
        "huber",
        "mse",
        "bce_with_logits",
        "cross_entropy",
        "nll",
        "triplet_margin",
        "cosine_embedding",
        "giou",
    ] {
        assert!(names.contains(&must), "{must} missing from {names:?}");
    }
    for excluded in ["nt_xent", "supcon", "batch_hard_triplet"] {
        assert!(!names.contains(&excluded), "{excluded} couples rows");
    }
    let ctx = ctx(4);
    for s in &specs {
        let sample = (s.info.sample)(400, &mut Rng::new(3));
        let arrays: Vec<_> = s
            .columns
            .iter()
            .filter_map(|c| sample.arrays.iter().find(|a| a.name == c.name))
            .collect();
        let fields: Vec<Field> = arrays
            .iter()
            .map(|a| {
                let col = column(&a.data, &a.dims);
                Field::new(a.name, col.data_type().clone(), false)
            })
            .collect();
        let cols: Vec<ArrayRef> = arrays.iter().map(|a| column(&a.data, &a.dims)).collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
        let table = format!("t_{}", s.info.name);
        ctx.register_batch(&table, batch).unwrap();
        let args: Vec<String> = arrays.iter().map(|a| format!("\"{}\"", a.name)).collect();
        let got = one_f64(
            &ctx,
            &format!("SELECT {}({}) FROM {table}", s.info.name, args.join(", ")),
        )
        .await
        .unwrap();
        let sa = sample.arrays(Dtype::F64);
        let named: Vec<NamedArray<'_>> = sa
            .named()
            .into_iter()
            .filter(|a| arrays.iter().any(|b| b.name == a.name))
            .collect();
        let want = evaluate_with(
            s.info,
            &named,
            &Params::defaults(s.info),
            ReductionMode::Mean,
            &[],
        )
        .unwrap()
        .value
        .unwrap();
        assert!(
            (got - want).abs() <= 1e-12 * want.abs().max(1e-300),
            "{}: SQL {got} vs core {want}",
            s.info.name
        );
    }
}

/// Per-row values, parameters by position and by name, weights, sum, NULLs.
#[tokio::test]
async fn arguments_parameters_weights_and_nulls() {
    let ctx = ctx(2);
    let t =
        "(VALUES (0.5, 0.0, 1.0), (3.0, 0.0, 3.0), (CAST(NULL AS DOUBLE), 1.0, 1.0)) AS t(p, y, w)";
    let h = |e: f64, d: f64| {
        if e.abs() <= d {
            0.5 * e * e
        } else {
            d * (e.abs() - 0.5 * d)
        }
    };
    let mean = one_f64(&ctx, &format!("SELECT huber(p, y) FROM {t}")).await;
    assert_eq!(mean, Some((h(0.5, 1.0) + h(3.0, 1.0)) / 2.0));
    let d2 = one_f64(&ctx, &format!("SELECT huber(p, y, 2.0) FROM {t}")).await;
    assert_eq!(d2, Some((h(0.5, 2.0) + h(3.0, 2.0)) / 2.0));
    let named = one_f64(&ctx, &format!("SELECT huber(p, y, 'delta=2') FROM {t}")).await;
    assert_eq!(named, d2);
    let weighted = one_f64(&ctx, &format!("SELECT huber(p, y, w, 2.0) FROM {t}")).await;
    assert_eq!(weighted, Some((h(0.5, 2.0) + 3.0 * h(3.0, 2.0)) / 4.0));
    let sum = one_f64(
        &ctx,
        &format!("SELECT huber(p, y, 'reduction=sum') FROM {t}"),
    )
    .await;
    assert_eq!(sum, Some(h(0.5, 1.0) + h(3.0, 1.0)));
    let none = one_f64(&ctx, &format!("SELECT huber(p, y) FROM {t} WHERE p > 10")).await;
    assert_eq!(none, None);

    let rows = ctx
        .sql(&format!("SELECT huber_loss(p, y, 2.0) AS l FROM {t}"))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let l = rows[0]
        .column(0)
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    assert_eq!(l.value(0), h(0.5, 2.0));
    assert_eq!(l.value(1), h(3.0, 2.0));
    assert!(l.is_null(2));

    // The stable form where the hand-written one overflows: softplus(1000) = 1000.
    let bce = one_f64(
        &ctx,
        "SELECT bce_with_logits(x, y) FROM (VALUES (1000.0, 0.0)) AS t(x, y)",
    )
    .await;
    assert_eq!(bce, Some(1000.0));

    // Cross-entropy on a list column, with class indices and ignore_index.
    let ce = one_f64(
        &ctx,
        "SELECT cross_entropy(l, y) FROM (VALUES ([0.0, 0.0], 0), ([0.0, 0.0], -100)) AS t(l, y)",
    )
    .await;
    assert_eq!(ce, Some(std::f64::consts::LN_2));
    // f32 columns compute in f32, as in the core.
    let f32_batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("p", DataType::Float32, false),
            Field::new("y", DataType::Float32, false),
        ])),
        vec![
            Arc::new(Float32Array::from(vec![0.1f32, 0.2])),
            Arc::new(Float32Array::from(vec![0.0f32, 0.0])),
        ],
    )
    .unwrap();
    ctx.register_batch("f32t", f32_batch).unwrap();
    let m = one_f64(&ctx, "SELECT mse(p, y) FROM f32t").await.unwrap();
    let want = (f64::from(0.1f32 * 0.1f32) + f64::from(0.2f32 * 0.2f32)) / 2.0;
    assert_eq!(m, want);
}

/// The same table gives the same bits at 1 or 64 partitions, in any batch order.
#[tokio::test]
async fn results_do_not_depend_on_partitioning() {
    let n = 20_000;
    let mut rng = Rng::new(17);
    let p: Vec<f64> = (0..n)
        .map(|_| rng.normal() * 10f64.powi(rng.below(12) as i32 - 4))
        .collect();
    let y: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
    let logits: Vec<f64> = (0..n * 10).map(|_| rng.normal() * 3.0).collect();
    let cls: Vec<i64> = (0..n).map(|_| rng.below(10) as i64).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("p", DataType::Float64, false),
        Field::new("y", DataType::Float64, false),
        Field::new(
            "logits",
            DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float64, false)), 10),
            false,
        ),
        Field::new("cls", DataType::Int64, false),
        Field::new("g", DataType::Utf8, false),
    ]));
    let g: Vec<&str> = (0..n).map(|i| ["a", "b", "c"][i % 3]).collect();
    let batch = |lo: usize, hi: usize| {
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Float64Array::from(p[lo..hi].to_vec())),
                Arc::new(Float64Array::from(y[lo..hi].to_vec())),
                column(
                    &SampleData::Float(logits[lo * 10..hi * 10].to_vec()),
                    &[hi - lo, 10],
                ),
                Arc::new(Int64Array::from(cls[lo..hi].to_vec())),
                Arc::new(StringArray::from(g[lo..hi].to_vec())),
            ],
        )
        .unwrap()
    };
    let query = "SELECT huber(p, y), mse(p, y, 'reduction=sum'), cross_entropy(logits, cls), \
                 bce_with_logits(p, CAST(y > 0 AS DOUBLE)) FROM t";
    let grouped = "SELECT g, huber(p, y), cross_entropy(logits, cls) FROM t GROUP BY g ORDER BY g";
    let run = |parts: Vec<Vec<RecordBatch>>, target: usize| {
        let schema = schema.clone();
        async move {
            let ctx = ctx(target);
            ctx.register_table("t", Arc::new(MemTable::try_new(schema, parts).unwrap()))
                .unwrap();
            let mut bits = Vec::new();
            for q in [query, grouped] {
                for b in ctx.sql(q).await.unwrap().collect().await.unwrap() {
                    for c in b.columns() {
                        if let Some(f) = c.as_any().downcast_ref::<Float64Array>() {
                            bits.extend(f.values().iter().map(|x| x.to_bits()));
                        }
                    }
                }
            }
            bits
        }
    };
    let one = run(vec![vec![batch(0, n)]], 1).await;
    assert_eq!(one.len(), 4 + 6);
    // 64 partitions of uneven batches (sizes 1..), given in a shuffled order.
    let mut cuts: Vec<usize> = (0..200).map(|_| rng.below(n as u64) as usize).collect();
    cuts.extend([0, n]);
    cuts.sort_unstable();
    cuts.dedup();
    let mut batches: Vec<RecordBatch> = cuts.windows(2).map(|w| batch(w[0], w[1])).collect();
    for i in (1..batches.len()).rev() {
        batches.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut parts: Vec<Vec<RecordBatch>> = vec![Vec::new(); 64];
    for (i, b) in batches.into_iter().enumerate() {
        parts[i % 64].push(b);
    }
    let many = run(parts.clone(), 64).await;
    assert_eq!(one, many, "1 partition vs 64");
    let two = run(parts, 2).await;
    assert_eq!(one, two, "64 partitions read by 2 threads");

    // The data are sensitive to the order: a plain f64 sum of the same Huber values in
    // another order gives other bits (so the equality above is not luck).
    let h: Vec<f64> = p
        .iter()
        .zip(&y)
        .map(|(a, b)| {
            let e: f64 = a - b;
            if e.abs() <= 1.0 {
                0.5 * e * e
            } else {
                e.abs() - 0.5
            }
        })
        .collect();
    let fwd: f64 = h.iter().sum();
    let rev: f64 = h.iter().rev().sum();
    assert_ne!(fwd.to_bits(), rev.to_bits());
}

/// Bad calls give errors naming the loss and the argument.
#[tokio::test]
async fn errors_name_the_loss_and_the_argument() {
    let ctx = ctx(2);
    let t = "(VALUES (0.5, 0.0, 'x')) AS t(p, y, s)";
    let e = error(&ctx, &format!("SELECT huber(p, y, -1.0) FROM {t}")).await;
    assert!(e.contains("huber") && e.contains("delta"), "{e}");
    let e = error(&ctx, &format!("SELECT huber(p, y, 'dleta=1') FROM {t}")).await;
    assert!(e.contains("huber") && e.contains("dleta"), "{e}");
    let e = error(&ctx, &format!("SELECT huber(p, s) FROM {t}")).await;
    assert!(
        e.contains("huber") && e.contains("target") && e.contains("Utf8"),
        "{e}"
    );
    let e = error(&ctx, &format!("SELECT huber(p) FROM {t}")).await;
    assert!(e.contains("huber(Float64, Float64)"), "{e}");
    let e = error(&ctx, &format!("SELECT huber(p, y, 1.0, p) FROM {t}")).await;
    assert!(e.contains("huber") && e.contains("argument 4"), "{e}");
    let e = error(&ctx, &format!("SELECT huber_loss(p, y, 'abc') FROM {t}")).await;
    assert!(e.contains("huber") && e.contains("delta"), "{e}");
    let e = error(
        &ctx,
        "SELECT cross_entropy(l, y) FROM (VALUES ([0.0, 0.0], 0), ([0.0], 1)) AS t(l, y)",
    )
    .await;
    assert!(e.contains("cross_entropy") && e.contains("input"), "{e}");
    let e = error(
        &ctx,
        "SELECT cross_entropy(l, y) FROM (VALUES ([0.0, 0.0], 5)) AS t(l, y)",
    )
    .await;
    assert!(e.contains("cross_entropy") && e.contains("target"), "{e}");
}

/// The catalogue's documentation reaches SHOW FUNCTIONS / information_schema.
#[tokio::test]
async fn functions_are_listed_with_their_docs() {
    let ctx = ctx(1);
    let batches = ctx
        .sql("SELECT routine_name, description, syntax_example FROM information_schema.routines WHERE routine_name IN ('huber', 'huber_loss', 'cross_entropy')")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    assert!(
        text.contains("huber(input, target [, weight] [, delta])"),
        "{text}"
    );
    assert!(text.contains("huber_loss"), "{text}");
    assert!(text.contains("cross_entropy"), "{text}");
    let shown = ctx
        .sql("SHOW FUNCTIONS LIKE 'huber%'")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let shown = datafusion::arrow::util::pretty::pretty_format_batches(&shown)
        .unwrap()
        .to_string();
    assert!(
        shown.contains("huber_loss") && shown.contains("AGGREGATE"),
        "{shown}"
    );
    // No generated name shadows a DataFusion function.
    let plain = SessionContext::new();
    let state = plain.state();
    for s in losskit_datafusion::specs() {
        assert!(
            !state.aggregate_functions().contains_key(s.info.name),
            "{}",
            s.info.name
        );
        assert!(
            !state.scalar_functions().contains_key(&s.scalar_name()),
            "{}",
            s.scalar_name()
        );
    }
}
