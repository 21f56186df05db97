//! The fuzz targets in `cargo test`: every committed corpus input replayed, then a short
//! seeded run of mutated inputs per target (the long runs use the `losskit-fuzz` runner).

use std::path::{Path, PathBuf};

use losskit::sample::Rng;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    let mut inputs: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    inputs.extend(losskit_fuzz::seeds(target));
    inputs
}

/// `n` inputs: each a corpus entry with a few bytes changed, inserted or cut.
fn mutants(corpus: &[Vec<u8>], n: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let mut v = corpus[rng.below(corpus.len() as u64) as usize].clone();
            for _ in 0..1 + rng.below(4) {
                let len = v.len() as u64;
                match rng.below(3) {
                    0 if len > 0 => {
                        let i = rng.below(len) as usize;
                        v[i] = rng.next_u64() as u8;
                    }
                    1 if len > 0 => {
                        v.truncate(rng.below(len) as usize);
                    }
                    _ => v.push(rng.next_u64() as u8),
                }
            }
            v
        })
        .collect()
}

#[test]
fn npy_corpus_and_a_seeded_run() {
    let c = corpus("npy");
    assert!(c.len() > 5, "the npy corpus is committed");
    for input in c.iter().chain(&mutants(&c, 3000, 11)) {
        losskit_fuzz::npy(input);
    }
}

#[test]
fn evaluate_corpus_and_a_seeded_run() {
    let c = corpus("evaluate");
    for input in c.iter().chain(&mutants(&c, 1500, 12)) {
        losskit_fuzz::evaluate(input);
    }
}

#[test]
fn cli_corpus_and_a_seeded_run() {
    let bin = losskit_fuzz::cli_binary().unwrap_or_else(|| {
        // `cargo test -p losskit-fuzz` alone may not have built the binary yet.
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "-p", "losskit-cli", "--bin", "losskit"])
            .status()
            .expect("cargo runs");
        assert!(status.success());
        losskit_fuzz::cli_binary().expect("the losskit binary after building it")
    });
    let dir = tempfile_dir();
    let c = corpus("cli");
    // Processes are slow: the corpus and a few dozen mutants.
    for input in c.iter().take(80).chain(&mutants(&c, 30, 13)) {
        losskit_fuzz::cli(&bin, &dir, input);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> PathBuf {
    std::env::temp_dir().join(format!("losskit-fuzz-test-{}", std::process::id()))
}
