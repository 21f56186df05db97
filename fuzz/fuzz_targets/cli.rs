#![no_main]
// Runs the `losskit` binary: build it first (`cargo build --release -p losskit-cli`) and
// point LOSSKIT_BIN at it.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let bin = losskit_fuzz::cli_binary().expect("set LOSSKIT_BIN to the losskit binary");
    let dir = std::env::temp_dir().join(format!("losskit-fuzz-cli-{}", std::process::id()));
    losskit_fuzz::cli(&bin, &dir, data);
});
