//! The describe-alarms parser never panics, and what it accepts is a valid alarm.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(alarm) = coldstandby_alarm::definition::from_describe_alarms(&value, None) {
            assert!(alarm.problems().is_empty());
        }
    }
});
