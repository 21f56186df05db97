//! `losskit sql`: an SQL query over Parquet, CSV and NDJSON files with every loss of the
//! catalogue as an aggregate (`huber(pred, target)`) and a per-row function
//! (`huber_loss(pred, target)`), on the embedded DataFusion engine.

use std::io::{self, IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use losskit_datafusion::datafusion;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::DataFusionError;
use datafusion::physical_plan::{execute_stream, ExecutionPlan};
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;

use crate::Failure;

/// Run an SQL query over Parquet, CSV or NDJSON files, with the losses as SQL functions.
///
/// Files are tables by path, globs allowed: `FROM 'preds/*.parquet'` (the format from the
/// extension: .parquet, .csv, .json for newline-delimited JSON). Every loss of `losskit list`
/// whose inputs fit in rows is an aggregate of its name — `huber(pred, target [, weight] [,
/// delta])`, the mean over the rows, summed exactly (the same bits at any partitioning) — and,
/// with one value per row, a scalar `<name>_loss(...)`. Parameters are literals, by position or
/// as 'name=value'; 'reduction=sum' gives the sum. `SHOW FUNCTIONS LIKE 'huber%'` lists them.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  losskit sql \"SELECT model, huber(pred, target, 1.0) AS huber, cross_entropy(logits, label) AS ce FROM 'preds/*.parquet' GROUP BY model ORDER BY model\""
)]
pub struct Args {
    /// The query.
    query: String,
    /// Write the result as a JSON array of row objects (numbers as JSON numbers).
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Write the result as CSV with a header line.
    #[arg(long)]
    csv: bool,
    /// Partitions the embedded engine splits the scan into (default: the number of cores).
    #[arg(long, value_name = "N")]
    partitions: Option<usize>,
    /// No progress line on stderr.
    #[arg(long, short)]
    quiet: bool,
}

fn fail(e: DataFusionError) -> Failure {
    let root = e.find_root().to_string();
    Failure(root.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Runs `losskit sql`.
pub fn run(args: &Args) -> Result<(), Failure> {
    if args.partitions == Some(0) {
        return Err(Failure("--partitions must be at least 1".into()));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(format!("cannot start the query engine: {e}")))?;
    rt.block_on(run_query(args))
}

/// The session: the embedded engine reading files by path.
pub async fn context(partitions: Option<usize>) -> Result<SessionContext, Failure> {
    let mut cfg = SessionConfig::new().with_information_schema(true);
    if let Some(p) = partitions {
        cfg = cfg.with_target_partitions(p);
    }
    let ctx = SessionContext::new_with_config(cfg).enable_url_table();
    losskit_datafusion::register_all(&ctx);
    Ok(ctx)
}

async fn run_query(args: &Args) -> Result<(), Failure> {
    let ctx = context(args.partitions).await?;
    let df = ctx.sql(&args.query).await.map_err(fail)?;
    let plan = df.create_physical_plan().await.map_err(fail)?;
    let progress = (!args.quiet && io::stderr().is_terminal()).then(|| Progress::start(&plan));
    let mut stream = execute_stream(plan, ctx.task_ctx()).map_err(fail)?;
    let out = io::stdout();
    let mut out = io::BufWriter::new(out.lock());
    let result = if args.json || args.csv {
        let mut writer = if args.json {
            Writer::Json(
                datafusion::arrow::json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, datafusion::arrow::json::writer::JsonArray>(Vec::new()),
            )
        } else {
            Writer::Csv {
                header: true,
                bytes: Vec::new(),
            }
        };
        while let Some(b) = stream.next().await {
            writer.write(&b.map_err(fail)?)?;
            flush(&mut out, writer.take())?;
        }
        if let Writer::Json(w) = &mut writer {
            w.finish().map_err(|e| fail(e.into()))?;
            let mut bytes = writer.take();
            bytes.push(b'\n');
            flush(&mut out, bytes)?;
        }
        Ok(())
    } else {
        let mut batches: Vec<RecordBatch> = Vec::new();
        while let Some(b) = stream.next().await {
            batches.push(b.map_err(fail)?);
        }
        let table = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .map_err(|e| fail(e.into()))?;
        flush(&mut out, format!("{table}\n").into_bytes())
    };
    if let Some(p) = progress {
        p.finish();
    }
    result?;
    match out.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(Failure(format!("cannot write to standard output: {e}")))
        }
        _ => Ok(()),
    }
}

enum Writer {
    Json(datafusion::arrow::json::ArrayWriter<Vec<u8>>),
    /// CSV, the header before the first batch only.
    Csv {
        header: bool,
        bytes: Vec<u8>,
    },
}

impl Writer {
    fn write(&mut self, b: &RecordBatch) -> Result<(), Failure> {
        match self {
            Writer::Json(w) => w.write(b),
            Writer::Csv { header, bytes } => {
                let mut w = datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(*header)
                    .build(std::mem::take(bytes));
                *header = false;
                let r = w.write(b);
                *bytes = w.into_inner();
                r
            }
        }
        .map_err(|e| fail(e.into()))
    }

    /// The bytes written so far (taken out of the buffer).
    fn take(&mut self) -> Vec<u8> {
        match self {
            Writer::Json(w) => std::mem::take(w.get_mut()),
            Writer::Csv { bytes, .. } => std::mem::take(bytes),
        }
    }
}

fn flush(out: &mut impl Write, bytes: Vec<u8>) -> Result<(), Failure> {
    match out.write_all(&bytes) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure(format!("cannot write to standard output: {e}"))),
        Ok(()) => Ok(()),
    }
}

/// A progress line on stderr (a terminal only) while the files are scanned: the rows and
/// bytes read so far, from the scan's metrics, after the first second.
struct Progress {
    bar: indicatif::ProgressBar,
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    fn start(plan: &Arc<dyn ExecutionPlan>) -> Progress {
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {elapsed} scanned {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        let (plan, b) = (Arc::clone(plan), bar.clone());
        let started = Instant::now();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                if started.elapsed() < Duration::from_secs(1) {
                    continue;
                }
                let (rows, bytes) = scanned(&plan);
                b.set_message(format!("{} rows, {:.1} MB read", rows, bytes as f64 / 1e6));
                b.tick();
            }
        });
        Progress { bar, task }
    }

    fn finish(self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}

/// Rows out of the scans and bytes read (Parquet reports them) so far, over the plan.
fn scanned(plan: &Arc<dyn ExecutionPlan>) -> (usize, usize) {
    let mut rows = 0;
    let mut bytes = 0;
    if plan.children().is_empty() {
        if let Some(m) = plan.metrics() {
            rows += m.output_rows().unwrap_or(0);
            bytes += m.sum_by_name("bytes_scanned").map_or(0, |v| v.as_usize());
        }
    }
    for c in plan.children() {
        let (r, b) = scanned(c);
        rows += r;
        bytes += b;
    }
    (rows, bytes)
}
