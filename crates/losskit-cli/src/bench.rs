//! `losskit bench`: how fast a loss runs on this machine, in-process, on generated inputs.
//!
//! The inputs come from the loss's own catalogue sampler ([`losskit::LossInfo::sample`]), so
//! every catalogue loss can be timed without a line of code here. The timed region is the
//! loss's evaluation only ([`losskit::evaluate_repeated`]): the inputs are converted and the
//! gradient buffers allocated once, before the warm-up.

use std::time::{Duration, Instant};

use losskit::numerics::simd_level;
use losskit::sample::{Rng, Sample, SampleArray, SampleData};
use losskit::{ArrayData, Dtype, LossInfo, Params, ReductionMode};
use rayon::prelude::*;

use crate::{emit, Failure};

const AFTER_HELP: &str = "\
Times the fused forward + backward (value and the gradient of every prediction input, mean \
reduction, or the loss's first one) of LOSS on inputs its catalogue sampler generates, after a warm-up; reports the \
median and minimum time, elements/s (prediction elements) and effective GB/s (every input \
read once, every gradient written once). With --triad, also a STREAM-like triad \
a[i] = b[i] + s*c[i] over the same number of bytes, in the same process and thread pool, and \
the loss's share of that bandwidth.

Examples:
  losskit bench mse --size 16777216 --triad
  losskit bench cross_entropy --shape 8192,1000 --param label_smoothing=0.1 --json
  losskit bench focal --size 4194304 --threads 2 --dtype f64 --value-only";

/// Time a loss's forward + backward on generated inputs (and a same-run memory triad).
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The loss, by its catalogue name (`losskit list` shows them).
    #[arg(value_name = "LOSS")]
    pub loss: String,

    /// About how many prediction elements to generate.
    #[arg(long, value_name = "N", default_value_t = 1 << 20, conflicts_with = "shape")]
    pub size: usize,

    /// The shape of the prediction, e.g. `8192,1000` (N, C for class scores): prediction-shaped
    /// inputs take it, class indices are drawn from `[0, C)` with the class axis (1) removed.
    #[arg(long, value_name = "D1,D2,...", value_delimiter = ',')]
    pub shape: Option<Vec<usize>>,

    /// Worker threads (0: rayon's default, one per core).
    #[arg(long, value_name = "T", default_value_t = 1)]
    pub threads: usize,

    /// The compute type.
    #[arg(long, value_name = "DTYPE", default_value = "f32", value_parser = ["f32", "f64"])]
    pub dtype: String,

    /// Time the reduced value alone, without gradients.
    #[arg(long)]
    pub value_only: bool,

    /// A parameter of the loss (`label_smoothing=0.1`).
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = key_value)]
    pub params: Vec<(String, String)>,

    /// Timed runs (default: as many as fit in about a second, 5 to 1000).
    #[arg(long, value_name = "R")]
    pub repeats: Option<usize>,

    /// Untimed runs first.
    #[arg(long, value_name = "W", default_value_t = 2)]
    pub warmup: usize,

    /// Also time a STREAM-like triad over the same bytes, in the same process.
    #[arg(long)]
    pub triad: bool,

    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err("expected KEY=VALUE, e.g. `delta=0.5`".to_owned()),
    }
}

/// Median and minimum of a set of times, in seconds.
fn stats(times: &mut [Duration]) -> (f64, f64) {
    times.sort();
    let n = times.len();
    let median = if n % 2 == 1 {
        times[n / 2].as_secs_f64()
    } else {
        (times[n / 2 - 1].as_secs_f64() + times[n / 2].as_secs_f64()) / 2.0
    };
    (median, times[0].as_secs_f64())
}

/// The sample reshaped so its prediction has `shape` (see `--shape`).
fn reshape(info: &LossInfo, sample: Sample, shape: &[usize], rng: &mut Rng) -> Sample {
    let numel: usize = shape.iter().product();
    let pred = info.predictions().first().copied().unwrap_or("input");
    let old = sample
        .get(pred)
        .map_or(0, |a| a.dims.iter().product::<usize>());
    let classes = shape.get(1).copied().unwrap_or(1);
    let mut reduced = shape.to_vec();
    if reduced.len() > 1 {
        reduced.remove(1);
    }
    let arrays = sample
        .arrays
        .into_iter()
        .map(|a| {
            let n: usize = a.dims.iter().product();
            match a.data {
                SampleData::Float(_) if n == old => SampleArray {
                    dims: shape.to_vec(),
                    data: SampleData::Float(regenerate(&a, numel, rng)),
                    ..a
                },
                SampleData::Index(_) => {
                    let m = reduced.iter().product();
                    SampleArray {
                        dims: reduced.clone(),
                        data: SampleData::Index(rng.classes(m, classes)),
                        ..a
                    }
                }
                _ => a,
            }
        })
        .collect();
    Sample { arrays }
}

/// `n` values drawn like `a`'s: uniformly from the range its values span (signs, labels in
/// [0, 1], variances stay in their domain), normal when the values span both signs widely.
fn regenerate(a: &SampleArray, n: usize, rng: &mut Rng) -> Vec<f64> {
    let SampleData::Float(v) = &a.data else {
        return Vec::new();
    };
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let distinct = v.iter().take(64).filter(|&&x| x != v[0]).count();
    let binary = v.iter().all(|&x| x == lo || x == hi);
    (0..n)
        .map(|_| {
            if binary && distinct > 0 {
                if rng.unit() < 0.5 {
                    lo
                } else {
                    hi
                }
            } else if lo < 0.0 && hi > 0.0 {
                rng.normal() * (hi - lo) / 6.0
            } else {
                rng.uniform(lo, hi)
            }
        })
        .collect()
}

/// Resets the peak resident set (Linux: `/proc/self/clear_refs`) and returns it, now the
/// current resident set; `None` where that is not available.
fn peak_reset() -> Option<u64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    high_water_mark()
}

/// The peak resident set in bytes (Linux: `VmHWM` of `/proc/self/status`).
fn high_water_mark() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// One timed configuration's results.
struct Timing {
    median: f64,
    min: f64,
    runs: usize,
}

/// Times `f` after `warmup` untimed runs: `repeats` runs, or as many as fit in about a second
/// (5 to 1000). `f(r, times)` runs the work `r` times on the same buffers, pushing each run's
/// time; the first run of the timed call (which touches fresh pages of buffers allocated for
/// that call) is dropped.
fn time_runs(
    warmup: usize,
    repeats: Option<usize>,
    mut f: impl FnMut(usize, &mut Vec<Duration>) -> Result<(), Failure>,
) -> Result<Timing, Failure> {
    let mut scratch = Vec::new();
    f(warmup.max(1), &mut scratch)?;
    let (per, _) = stats(&mut scratch);
    let r = repeats.unwrap_or_else(|| ((1.0 / per.max(1e-9)) as usize).clamp(5, 1000));
    let mut times = Vec::new();
    f(r.max(1) + 1, &mut times)?;
    times.remove(0);
    let (median, min) = stats(&mut times);
    Ok(Timing {
        median,
        min,
        runs: times.len(),
    })
}

/// `a[i] = b[i] + s·c[i]` over arrays of `n` elements of `dtype`, chunked over the pool.
fn triad(n: usize, dtype: Dtype, warmup: usize, repeats: Option<usize>) -> Timing {
    fn run<T: Copy + Send + Sync + std::ops::Add<Output = T> + std::ops::Mul<Output = T>>(
        a: &mut [T],
        b: &[T],
        c: &[T],
        s: T,
    ) {
        const CH: usize = 1 << 14;
        a.par_chunks_mut(CH).enumerate().for_each(|(k, a)| {
            let (b, c) = (&b[k * CH..k * CH + a.len()], &c[k * CH..k * CH + a.len()]);
            for i in 0..a.len() {
                a[i] = b[i] + s * c[i];
            }
        });
    }
    let time = |step: &mut dyn FnMut()| {
        time_runs(warmup, repeats, |r, times| {
            for _ in 0..r {
                let t = Instant::now();
                step();
                times.push(t.elapsed());
            }
            Ok(())
        })
        .expect("the triad cannot fail")
    };
    match dtype {
        Dtype::F32 => {
            let (mut a, b, c) = (vec![0.0f32; n], vec![1.0f32; n], vec![2.0f32; n]);
            time(&mut || run(&mut a, &b, &c, 3.0))
        }
        Dtype::F64 => {
            let (mut a, b, c) = (vec![0.0f64; n], vec![1.0f64; n], vec![2.0f64; n]);
            time(&mut || run(&mut a, &b, &c, 3.0))
        }
    }
}

/// The most threads, timed runs and warm-up runs `bench` starts.
const MAX_THREADS: usize = 1024;
const MAX_REPEATS: usize = 100_000;
const MAX_WARMUP: usize = 10_000;

/// Refuses what cannot run or would not end, before anything is allocated: zero or absurd
/// counts, a shape whose element count overflows, inputs that do not fit in the memory
/// available. Returns the prediction's element count.
fn check_limits(info: &LossInfo, args: &Args) -> Result<usize, Failure> {
    let bad = |m: String| Err(Failure(format!("bench: {m}")));
    if args.threads > MAX_THREADS {
        return bad(format!(
            "`--threads` is at most {MAX_THREADS}, got {}",
            args.threads
        ));
    }
    if let Some(r) = args.repeats {
        if r == 0 || r > MAX_REPEATS {
            return bad(format!(
                "`--repeats` must be in [1, {MAX_REPEATS}], got {r}"
            ));
        }
    }
    if args.warmup > MAX_WARMUP {
        return bad(format!(
            "`--warmup` is at most {MAX_WARMUP}, got {}",
            args.warmup
        ));
    }
    let size = match &args.shape {
        Some(s) => s
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| {
                Failure(format!(
                    "bench: the element count of `--shape` {s:?} overflows"
                ))
            })?,
        None => args.size,
    };
    if size == 0 {
        return bad("the size must be >= 1 (`--size` or every `--shape` dimension)".into());
    }
    // Every input is generated in f64, converted, and every prediction gets a gradient: a
    // generous bound of 8 bytes × 3 copies per input and per gradient.
    let copies = (info.inputs.len() + info.predictions().len()) as u128 * 3;
    let need = size as u128 * 8 * copies;
    if let Some(avail) = available_memory() {
        if need > u128::from(avail) {
            return bad(format!(
                "{size} elements need about {:.1} GB, {:.1} GB of memory is available; use a smaller `--size`/`--shape`",
                need as f64 / 1e9,
                avail as f64 / 1e9
            ));
        }
    } else if need > 1 << 40 {
        return bad(format!("{size} elements are too many to generate"));
    }
    Ok(size)
}

/// The memory available to a new allocation (Linux: `MemAvailable` of `/proc/meminfo`).
pub(crate) fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Runs `losskit bench`.
pub fn run(args: &Args) -> Result<(), Failure> {
    let info = losskit::find(&args.loss)?;
    let params = Params::parse(info, &args.params)?;
    let size = check_limits(info, args)?;
    let dtype = if args.dtype == "f64" {
        Dtype::F64
    } else {
        Dtype::F32
    };
    if args.threads > 0 {
        // The first use of the global pool: the loss's parallel chunks and the triad share it.
        rayon::ThreadPoolBuilder::new()
            .num_threads(args.threads)
            .build_global()
            .map_err(|e| Failure(format!("cannot start {} threads: {e}", args.threads)))?;
    }
    let threads = rayon::current_num_threads();
    let mut rng = Rng::new(0x5eed);
    let mut sample = (info.sample)(size.max(1), &mut rng);
    if let Some(shape) = &args.shape {
        sample = reshape(info, sample, shape, &mut rng);
    }
    let arrays = sample.arrays(dtype);
    let named = arrays.named();
    let grads = if args.value_only {
        Vec::new()
    } else {
        info.predictions()
    };
    let elem = match dtype {
        Dtype::F32 => 4,
        Dtype::F64 => 8,
    };
    let pred = info.predictions();
    let elements: usize = named
        .iter()
        .filter(|a| pred.contains(&a.name))
        .map(|a| a.data.len())
        .sum();
    let read: usize = named
        .iter()
        .map(|a| {
            let float = matches!(a.data, ArrayData::F32(_) | ArrayData::F64(_));
            a.data.len() * if float { elem } else { 8 }
        })
        .sum();
    let written: usize = elements * elem * grads.len().min(1);
    let bytes = read + written;
    let shapes: Vec<String> = named
        .iter()
        .map(|a| format!("{}={:?}", a.name, a.dims))
        .collect();

    let mut base = None;
    let timing = time_runs(args.warmup, args.repeats, |r, times| {
        if base.is_none() {
            base = Some(peak_reset());
        }
        let reduction = info
            .reductions
            .first()
            .copied()
            .unwrap_or(ReductionMode::Mean);
        losskit::evaluate_repeated(info, &named, &params, reduction, &grads, r, times)?;
        Ok(())
    })?;
    // What the loss calls added to the resident set at their peak (the gradient buffers,
    // allocated once inside the first call, included).
    let extra_peak = match (base.flatten(), high_water_mark()) {
        (Some(b), Some(p)) => Some(p.saturating_sub(b)),
        _ => None,
    };
    let gbs = bytes as f64 / timing.median / 1e9;
    let tri = args.triad.then(|| {
        // The triad reads two arrays and writes one: the same bytes as the loss.
        let n = (bytes / (3 * elem)).max(1);
        let t = triad(n, dtype, args.warmup, args.repeats);
        let tgbs = (3 * n * elem) as f64 / t.median / 1e9;
        (t, tgbs)
    });

    let level = simd_level().name();
    if args.json {
        let mut o = serde_json::json!({
            "loss": info.name,
            "dtype": dtype.name(),
            "mode": if args.value_only { "value" } else { "value_and_grad" },
            "shapes": shapes,
            "elements": elements,
            "threads": threads,
            "simd": level,
            "runs": timing.runs,
            "median_s": timing.median,
            "min_s": timing.min,
            "elements_per_s": elements as f64 / timing.median,
            "bytes": bytes,
            "gb_per_s": gbs,
            "extra_peak_bytes": extra_peak,
        });
        if let Some((t, tgbs)) = &tri {
            o["triad_median_s"] = serde_json::json!(t.median);
            o["triad_gb_per_s"] = serde_json::json!(tgbs);
            o["bandwidth_share"] = serde_json::json!(gbs / tgbs);
        }
        emit(&format!("{o}\n"))
    } else {
        let mut s = format!(
            "{} ({}, {}, {} thread{}, {}): {}\n  median {:.3} ms, min {:.3} ms over {} runs\n  {:.3e} elements/s, {:.2} GB/s ({} bytes moved)\n",
            info.name,
            dtype.name(),
            if args.value_only { "value" } else { "value + gradient" },
            threads,
            if threads == 1 { "" } else { "s" },
            level,
            shapes.join(" "),
            timing.median * 1e3,
            timing.min * 1e3,
            timing.runs,
            elements as f64 / timing.median,
            gbs,
            bytes
        );
        if let Some((t, tgbs)) = &tri {
            s.push_str(&format!(
                "  triad over the same bytes: median {:.3} ms, {:.2} GB/s; the loss runs at {:.0}% of it\n",
                t.median * 1e3,
                tgbs,
                100.0 * gbs / tgbs
            ));
        }
        emit(&s)
    }
}
