//! The cross-origin write check. The input is lines: a method, a request target, then headers
//! as `name: value`; the pseudo-header `public: <origin>` sets the site's public origin. The
//! rules in `latchkey_axum::origin` must hold for whatever the headers say.

#![no_main]

use axum::http::header::ORIGIN;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use latchkey_axum::origin::{check, PublicOrigin, Refusal, SEC_FETCH_SITE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&byte| byte == b'\n');
    let Some(Ok(method)) = lines.next().map(Method::from_bytes) else {
        return;
    };
    let Some(Ok(uri)) = lines.next().map(Uri::try_from) else {
        return;
    };

    let mut headers = HeaderMap::new();
    let mut public = None;
    for line in lines {
        let Some(colon) = line.iter().position(|&byte| byte == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii_start());
        if name == b"public" {
            public = std::str::from_utf8(value)
                .ok()
                .and_then(PublicOrigin::parse);
            continue;
        }
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }

    let verdict = check(&method, &headers, &uri, public.as_ref());

    // 1. Reads never need a check.
    if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
        assert_eq!(verdict, Ok(()));
        return;
    }

    // 2. Sec-Fetch-Site, where present, decides alone.
    if let Some(site) = headers.get(SEC_FETCH_SITE) {
        let same = site.as_bytes().eq_ignore_ascii_case(b"same-origin")
            || site.as_bytes().eq_ignore_ascii_case(b"none");
        assert_eq!(
            verdict,
            if same {
                Ok(())
            } else {
                Err(Refusal::CrossSite)
            }
        );
        return;
    }

    // 3. Then Origin: an opaque one is refused, and the public origin always passes.
    let Some(origin) = headers.get(ORIGIN) else {
        assert_eq!(verdict, Ok(()), "no Origin and no Sec-Fetch-Site");
        return;
    };
    let parsed = origin.to_str().ok().and_then(PublicOrigin::parse);
    match parsed {
        None => assert_eq!(verdict, Err(Refusal::OpaqueOrigin)),
        Some(parsed) if public.as_ref() == Some(&parsed) => assert_eq!(verdict, Ok(())),
        Some(_) => assert_ne!(verdict, Err(Refusal::CrossSite)),
    }
});
