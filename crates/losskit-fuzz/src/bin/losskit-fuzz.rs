//! The stable-Rust fuzz runner: mutates a corpus of inputs for each target, keeps an input
//! whose signature (what it did: which error, which dtype…) is new, minimised, and saves any
//! input that panics or hangs to the crash directory.
//!
//! ```text
//! losskit-fuzz [--target npy|evaluate|cli|all] [--seconds N] [--seed S]
//!              [--corpus DIR] [--crashes DIR] [--replay]
//! ```
//! Defaults: all targets, 60 s, seed 1, corpus `crates/losskit-fuzz/corpus`, crashes
//! `fuzz-crashes/`. The CLI target needs the `losskit` binary beside this one (build both with
//! `cargo build --release -p losskit-cli -p losskit-fuzz`) or in `$LOSSKIT_BIN`.
//! `--replay` runs every corpus and crash file once and exits 1 if any still fails.

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use losskit::sample::Rng;
use losskit_fuzz::{cli, cli_binary, evaluate, npy, TARGETS};

/// Tokens spliced into inputs: pieces of `.npy` headers and of arguments.
const DICT: [&[u8]; 20] = [
    b"\x93NUMPY\x01\x00",
    b"\x93NUMPY\x02\x00",
    b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
    b"{'descr': '<f2', 'fortran_order': False, 'shape': (4,), }",
    b"{'descr': '<V2', 'fortran_order': True, 'shape': (), }",
    b"'descr'",
    b"'shape'",
    b"'fortran_order'",
    b"[[[[[[[[[[",
    b"{1:{1:{1:",
    b"(((((",
    b"True",
    b"False",
    b"'<i8'",
    b"'|b1'",
    b"4294967296, ",
    b"18446744073709551615",
    b", ",
    b"\n",
    b"\xff\xff\xff\x7f",
];

/// The most inputs a target's corpus grows to.
const MAX_CORPUS: usize = 160;

struct Config {
    targets: Vec<&'static str>,
    seconds: u64,
    seed: u64,
    corpus: PathBuf,
    crashes: PathBuf,
    replay: bool,
}

fn parse_args() -> Result<Config, String> {
    let mut c = Config {
        targets: TARGETS.to_vec(),
        seconds: 60,
        seed: 1,
        corpus: PathBuf::from("crates/losskit-fuzz/corpus"),
        crashes: PathBuf::from("fuzz-crashes"),
        replay: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--target" => {
                let t = value()?;
                c.targets = if t == "all" {
                    TARGETS.to_vec()
                } else {
                    vec![*TARGETS
                        .iter()
                        .find(|x| **x == t)
                        .ok_or(format!("unknown target {t}"))?]
                };
            }
            "--seconds" => c.seconds = value()?.parse().map_err(|e| format!("{e}"))?,
            "--seed" => c.seed = value()?.parse().map_err(|e| format!("{e}"))?,
            "--corpus" => c.corpus = PathBuf::from(value()?),
            "--crashes" => c.crashes = PathBuf::from(value()?),
            "--replay" => c.replay = true,
            "--help" | "-h" => {
                println!(
                    "losskit-fuzz [--target npy|evaluate|cli|all] [--seconds N] [--seed S] [--corpus DIR] [--crashes DIR] [--replay]"
                );
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    Ok(c)
}

/// A target's function: bytes in, signature out.
type RunFn = Box<dyn Fn(&[u8]) -> String>;

/// One target, runnable on bytes.
struct Target {
    name: &'static str,
    run: RunFn,
}

fn make_target(name: &'static str, scratch: &Path) -> Target {
    match name {
        "npy" => Target {
            name,
            run: Box::new(npy),
        },
        "evaluate" => Target {
            name,
            run: Box::new(evaluate),
        },
        _ => {
            let bin = cli_binary().unwrap_or_else(|| {
                eprintln!("losskit-fuzz: no `losskit` binary beside this one; build it with `cargo build --release -p losskit-cli` or set LOSSKIT_BIN");
                std::process::exit(2)
            });
            let dir = scratch.join("cli");
            Target {
                name,
                run: Box::new(move |d| cli(&bin, &dir, d)),
            }
        }
    }
}

fn read_dir_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    let n = 1 + rng.below(6);
    for _ in 0..n {
        let len = input.len() as u64;
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len) as usize;
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len) as usize;
                input[i] = [0u8, 1, 0x7f, 0x80, 0xff, b'(', b'[', b'{', b',', b' ']
                    [rng.below(10) as usize];
            }
            2 => {
                let i = rng.below(len + 1) as usize;
                let k = 1 + rng.below(8) as usize;
                for j in 0..k {
                    input.insert(i + j, rng.next_u64() as u8);
                }
            }
            3 if len > 1 => {
                let i = rng.below(len) as usize;
                let k = (1 + rng.below(16) as usize).min(input.len() - i);
                input.drain(i..i + k);
            }
            4 => {
                let tok = DICT[rng.below(DICT.len() as u64) as usize];
                let i = rng.below(len + 1) as usize;
                input.splice(i..i, tok.iter().copied());
            }
            5 if !corpus.is_empty() => {
                let other = &corpus[rng.below(corpus.len() as u64) as usize];
                if !other.is_empty() {
                    let a = rng.below(other.len() as u64) as usize;
                    let b = a + rng.below((other.len() - a) as u64 + 1) as usize;
                    let i = rng.below(len + 1) as usize;
                    input.splice(i..i, other[a..b].iter().copied());
                }
            }
            6 if len > 1 => {
                // Repeat a chunk (nesting, long headers).
                let i = rng.below(len) as usize;
                let k = (1 + rng.below(8) as usize).min(input.len() - i);
                let chunk: Vec<u8> = input[i..i + k].to_vec();
                for _ in 0..1 + rng.below(64) {
                    input.splice(i..i, chunk.iter().copied());
                }
            }
            7 if len > 0 => {
                let i = rng.below(len) as usize;
                let v = rng.next_u64().to_le_bytes();
                for (j, b) in v.iter().enumerate().take(input.len() - i) {
                    input[i + j] = *b;
                }
            }
            _ => input.push(rng.next_u64() as u8),
        }
    }
    input.truncate(1 << 16);
}

/// Tries shorter versions of `input` with the same signature.
fn minimise(target: &Target, input: &[u8], sig: &str) -> Vec<u8> {
    let mut best = input.to_vec();
    let mut chunk = best.len() / 2;
    // A CLI execution is a process: minimise those less.
    let mut budget = if target.name == "cli" { 24 } else { 400 };
    while chunk >= 1 {
        let mut i = 0;
        while i + chunk <= best.len() && budget > 0 {
            budget -= 1;
            let mut cand = best.clone();
            cand.drain(i..i + chunk);
            let same = catch_unwind(AssertUnwindSafe(|| (target.run)(&cand)))
                .map(|s| s == sig)
                .unwrap_or(false);
            if same {
                best = cand;
            } else {
                i += chunk;
            }
        }
        chunk /= 2;
    }
    best
}

fn main() {
    let config = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("losskit-fuzz: {e}");
            std::process::exit(2);
        }
    };
    let scratch = std::env::temp_dir().join(format!("losskit-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&scratch);
    let targets: Vec<Target> = config
        .targets
        .iter()
        .map(|t| make_target(t, &scratch))
        .collect();

    // The current input of each exec, for the watchdog to save before aborting a hang.
    let current: Arc<Mutex<(String, Vec<u8>)>> = Arc::new(Mutex::new((String::new(), Vec::new())));
    let started = Arc::new(AtomicU64::new(0));
    let epoch = Instant::now();
    {
        let (current, started, crashes) =
            (current.clone(), started.clone(), config.crashes.clone());
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            let s = started.load(Ordering::SeqCst);
            if s != 0 && (epoch.elapsed().as_millis() as u64).saturating_sub(s) > 30_000 {
                let (name, data) = current.lock().map(|c| c.clone()).unwrap_or_default();
                let _ = std::fs::create_dir_all(&crashes);
                let path = crashes.join(format!("{name}-hang-{:016x}", fnv(&data)));
                let _ = std::fs::write(&path, &data);
                eprintln!(
                    "losskit-fuzz: an input ran for 30 s; saved to {}",
                    path.display()
                );
                std::process::abort();
            }
        });
    }
    std::panic::set_hook(Box::new(|_| {}));
    let exec = |t: &Target, data: &[u8]| -> Result<String, String> {
        if let Ok(mut c) = current.lock() {
            c.0 = t.name.to_owned();
            c.1 = data.to_vec();
        }
        started.store(epoch.elapsed().as_millis() as u64 + 1, Ordering::SeqCst);
        let r = catch_unwind(AssertUnwindSafe(|| (t.run)(data))).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "panic".to_owned())
        });
        started.store(0, Ordering::SeqCst);
        r
    };

    let mut failed = 0usize;
    if config.replay {
        for t in &targets {
            for dir in [config.corpus.join(t.name), config.crashes.clone()] {
                for (path, data) in read_dir_files(&dir) {
                    let belongs = dir != config.crashes
                        || path
                            .file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with(t.name));
                    if belongs {
                        if let Err(msg) = exec(t, &data) {
                            failed += 1;
                            eprintln!("{}: {}: {msg}", t.name, path.display());
                        }
                    }
                }
            }
        }
        println!("replay: {failed} failing");
        std::process::exit(i32::from(failed > 0));
    }

    let mut rng = Rng::new(config.seed);
    let deadline = Instant::now() + Duration::from_secs(config.seconds);
    let mut stats: HashMap<&str, (u64, usize, usize)> = HashMap::new(); // execs, new, crashes
    let mut corpora: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut seen: Vec<HashSet<String>> = Vec::new();
    for t in &targets {
        let dir = config.corpus.join(t.name);
        let mut corpus: Vec<Vec<u8>> = read_dir_files(&dir).into_iter().map(|(_, b)| b).collect();
        let mut sigs = HashSet::new();
        for c in &corpus {
            if let Ok(s) = exec(t, c) {
                sigs.insert(s);
            }
        }
        for seed in losskit_fuzz::seeds(t.name) {
            if let Ok(s) = exec(t, &seed) {
                sigs.insert(s);
            }
            corpus.push(seed);
        }
        if corpus.is_empty() {
            corpus.push(Vec::new());
        }
        corpora.push(corpus);
        seen.push(sigs);
    }
    let mut crash_sigs: HashSet<String> = HashSet::new();
    let mut last_report = Instant::now();
    // Each target gets the same share of the time, however slow its executions.
    let mut spent = vec![Duration::ZERO; targets.len()];
    while Instant::now() < deadline {
        let ti = (0..targets.len()).min_by_key(|&i| spent[i]).unwrap_or(0);
        let t0 = Instant::now();
        let t = &targets[ti];
        let corpus = &corpora[ti];
        let mut input = if rng.below(20) == 0 {
            (0..rng.below(256)).map(|_| rng.next_u64() as u8).collect()
        } else {
            corpus[rng.below(corpus.len() as u64) as usize].clone()
        };
        mutate(&mut rng, &mut input, corpus);
        let entry = stats.entry(t.name).or_default();
        entry.0 += 1;
        match exec(t, &input) {
            Ok(sig) => {
                // A new behaviour joins the corpus (kept small: at most MAX_CORPUS per target).
                if corpora[ti].len() < MAX_CORPUS && seen[ti].insert(sig.clone()) {
                    let small = minimise(t, &input, &sig);
                    let dir = config.corpus.join(t.name);
                    let _ = std::fs::create_dir_all(&dir);
                    let _ = std::fs::write(dir.join(format!("{:016x}", fnv(&small))), &small);
                    corpora[ti].push(small);
                    entry.1 += 1;
                }
            }
            Err(msg) => {
                let first = msg.lines().next().unwrap_or("").to_owned();
                let key = format!("{} {}", t.name, losskit_fuzz::signature(&first));
                let _ = std::fs::create_dir_all(&config.crashes);
                let path = config
                    .crashes
                    .join(format!("{}-{:016x}", t.name, fnv(&input)));
                if crash_sigs.insert(key) {
                    let _ = std::fs::write(&path, &input);
                    eprintln!("CRASH {}: {first} (saved to {})", t.name, path.display());
                }
                entry.2 += 1;
            }
        }
        spent[ti] += t0.elapsed();
        if last_report.elapsed() > Duration::from_secs(60) {
            last_report = Instant::now();
            report(&stats, &corpora, &targets);
        }
    }
    report(&stats, &corpora, &targets);
    let _ = std::fs::remove_dir_all(&scratch);
    if !crash_sigs.is_empty() {
        eprintln!("{} distinct crash kinds", crash_sigs.len());
        std::process::exit(1);
    }
}

fn report(
    stats: &HashMap<&str, (u64, usize, usize)>,
    corpora: &[Vec<Vec<u8>>],
    targets: &[Target],
) {
    for (t, c) in targets.iter().zip(corpora) {
        let (execs, new, crashes) = stats.get(t.name).copied().unwrap_or_default();
        let bytes: usize = c.iter().map(Vec::len).sum();
        eprintln!(
            "{:>9}: {execs} execs, {new} new corpus entries, corpus {} files / {bytes} bytes, {crashes} crashing execs",
            t.name,
            c.len()
        );
    }
}
