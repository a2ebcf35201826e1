#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| opendesk_render_fuzz::fast_path(data));
