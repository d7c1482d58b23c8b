//! The configuration parser never panics: any text is a config or a list of problems.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match coldstandby_config::parse(text, "fuzz.toml") {
            Ok(config) => {
                for group in &config.groups {
                    group.spec.assert_well_formed();
                }
            }
            Err(error) => assert!(!error.problems.is_empty(), "an error names at least one problem"),
        }
    }
});
