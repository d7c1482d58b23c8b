//! The alarm event parser never panics on any JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(event) = coldstandby_handler::event::parse(&value) {
            assert!(!event.alarm_name.is_empty());
            let _ = event.trigger();
        }
    }
});
