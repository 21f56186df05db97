#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    losskit_fuzz::npy(data);
});
