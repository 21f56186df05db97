//! Reads the resolved versions of candle-core and burn from `Cargo.lock`, so the binary
//! reports the versions it was built with.

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    for (krate, var) in [("candle-core", "CANDLE_VERSION"), ("burn", "BURN_VERSION")] {
        let header = format!("name = \"{krate}\"\nversion = \"");
        let version = lock
            .find(&header)
            .and_then(|i| {
                let rest = &lock[i + header.len()..];
                rest.find('"').map(|j| rest[..j].to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        println!("cargo:rustc-env={var}={version}");
    }
}
