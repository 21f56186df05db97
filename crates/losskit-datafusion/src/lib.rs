//! losskit's losses as [Apache DataFusion](https://datafusion.apache.org) SQL functions.
//!
//! Every catalogue loss whose inputs fit in table rows becomes an **aggregate** function of
//! the same name (`huber(prediction, target [, weight] [, delta])`: the mean over the group's
//! rows) and, when it gives one value per row, a **scalar** function `<name>_loss` with the
//! value of each row. The functions are generated from the catalogue
//! ([`losskit::catalogue`]): its inputs are the column arguments, its parameters the literal
//! ones (by position, or as `'name=value'` strings), its documentation the function docs
//! (`SHOW FUNCTIONS`, `information_schema.routines`). The kernels are the core's: this crate
//! only converts Arrow arrays and sums.
//!
//! * Numeric columns are `[N]` inputs; a list column (`FixedSizeList`, `List`, `LargeList` of
//!   floats) is an `[N, C]` input: logits, probabilities, embeddings, boxes.
//! * Rows with a NULL in any argument are skipped (as `AVG` does); a group with no rows gives
//!   NULL.
//! * The aggregate is the mean Σ w·ℓ / Σ w over the rows (w = 1 without a weight column;
//!   rows whose index target equals `ignore_index` do not count), or the sum with
//!   `'reduction=sum'`. Both sums are **exact** ([`ExactSum`], a fixed-point superaccumulator)
//!   and rounded once at the end, so the result has the same bits whatever the partitioning,
//!   the batch sizes and the order of the merges: 1 partition or 64, one machine or a cluster.
//! * Bad calls are DataFusion errors naming the loss and the argument: an unknown parameter, a
//!   parameter out of range (at planning), a wrong column type, ragged list rows.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> datafusion::common::Result<()> {
//! use datafusion::prelude::*;
//! let ctx = SessionContext::new();
//! losskit_datafusion::register_all(&ctx);
//! let df = ctx
//!     .sql("SELECT huber(p, y, 1.0) AS h FROM (VALUES (0.5, 0.0), (3.0, 0.0)) AS t(p, y)")
//!     .await?;
//! let batches = df.collect().await?;
//! # let h = batches[0].column(0).as_any().downcast_ref::<datafusion::arrow::array::Float64Array>().unwrap().value(0);
//! # assert_eq!(h, (0.125 + 2.5) / 2.0);
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod columns;
mod exact;
mod spec;
mod udaf;
mod udf;

use std::sync::Arc;

use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};

/// The DataFusion this crate is built against (use it to avoid a second copy).
pub use datafusion;
pub use exact::ExactSum;
pub use spec::{specs, LossSpec};
pub use udaf::LossUdaf;
pub use udf::LossUdf;

/// The aggregate function of every loss that fits in table rows.
pub fn aggregate_udfs() -> Vec<AggregateUDF> {
    specs()
        .into_iter()
        .map(|s| AggregateUDF::from(LossUdaf::new(Arc::new(s))))
        .collect()
}

/// The per-row scalar function (`<loss>_loss`) of every loss with one value per row.
pub fn scalar_udfs() -> Vec<ScalarUDF> {
    specs()
        .into_iter()
        .filter(|s| s.per_row == 1)
        .map(|s| ScalarUDF::from(LossUdf::new(Arc::new(s))))
        .collect()
}

/// Registers every loss's aggregate and scalar function on `ctx`.
pub fn register_all(ctx: &SessionContext) {
    for f in aggregate_udfs() {
        ctx.register_udaf(f);
    }
    for f in scalar_udfs() {
        ctx.register_udf(f);
    }
}
