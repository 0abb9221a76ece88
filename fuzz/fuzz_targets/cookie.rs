//! Cookie parsing: each line of the input is one `Cookie` header. The session token is read
//! as the axum layer reads it, and every `auth_device` value is checked as a device cookie.
//! A token read is always a well-formed one that the headers carry, and no device cookie
//! verifies unless this key issued it.

#![no_main]

use std::time::{Duration, SystemTime};

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use latchkey::device::DeviceKey;
use latchkey::token::{ALPHABET, TOKEN_LENGTH};
use latchkey_axum::CookieConfig;
use libfuzzer_sys::fuzz_target;

/// The key the corpus's valid device cookies were issued with.
const DEVICE_KEY: [u8; 32] = [7; 32];

/// 2026-01-01T00:00:00Z, the instant the device cookies are checked at; the corpus's valid
/// ones expire a year later.
const NOW: Duration = Duration::from_secs(1_767_225_600);

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for line in data.split(|&byte| byte == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(COOKIE, value);
        }
    }

    let config = CookieConfig::default();
    let token = config.read_token(&headers);
    if let Some(token) = &token {
        let token = token.expose_secret();
        assert!(config.is_present(&headers));
        assert_eq!(token.len(), TOKEN_LENGTH);
        assert!(token.bytes().all(|byte| ALPHABET.contains(&byte)));
        let carried = headers.get_all(COOKIE).iter().any(|value| {
            value
                .as_bytes()
                .windows(token.len())
                .any(|w| w == token.as_bytes())
        });
        assert!(carried, "{token:?} is not in {headers:?}");
    }

    // Renamed, the cookie is found under its new name only.
    let renamed = CookieConfig::default().name("other");
    if renamed.read_token(&headers).is_some() {
        assert!(renamed.is_present(&headers));
        assert!(data.windows(5).any(|window| window == b"other"));
    }

    let key = DeviceKey::from_bytes(&DEVICE_KEY);
    let now = SystemTime::UNIX_EPOCH + NOW;
    for value in device_cookies(&headers) {
        if let Some(device) = key.verify(value, "username", "fuzzuser", now) {
            assert!(value.contains(device.as_str()), "{value:?}");
            assert!(key.verify(value, "username", "fuzzuser2", now).is_none());
        }
    }
});

/// Every `auth_device` value, as the site's sign-in reads the first of them.
fn device_cookies(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == "auth_device")
        .map(|(_, value)| value)
}
