#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cordon_fuzz_targets::model_replies(data));
