//! `POST /api/login` through the whole site: content type, cookies and body as a client
//! might send them (the layout is in the crate docs). The site must never answer 5xx.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| latchkey_fuzz::fuzz_api("/api/login", data));
