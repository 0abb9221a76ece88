//! Pictures of every page for people to look at: `screenshots/<page>-<width>-<scheme>.png` at
//! the root of the repository (ignored by git), rewritten by every test run.

use std::path::PathBuf;

use crate::support::pages::Page;
use crate::support::{Scheme, Scripting, Visit, DESKTOP, PHONE};

#[tokio::test]
async fn every_page_is_photographed_at_desktop_and_phone_widths_in_both_schemes() {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../screenshots");
    std::fs::create_dir_all(&folder).expect("the screenshots folder");
    let visit = Visit::start(Scripting::On).await;

    for page in Page::ALL {
        page.show(&visit).await;
        for viewport in [DESKTOP, PHONE] {
            for scheme in [Scheme::Light, Scheme::Dark] {
                visit.browser.emulate(viewport, scheme).await;

                let png = visit.browser.screenshot().await;

                assert_eq!(
                    png_size(&png),
                    Some((viewport.width, viewport.height)),
                    "{} at {}",
                    page.name(),
                    viewport.name
                );
                let name = format!("{}-{}-{}.png", page.name(), viewport.name, scheme.name());
                std::fs::write(folder.join(name), png).expect("the screenshot is written");
            }
        }
    }
    visit.finish().await;
}

/// Width and height from a PNG's header chunk, which always comes first.
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    let signature = b"\x89PNG\r\n\x1a\n";
    if !png.starts_with(signature) || png.get(12..16)? != b"IHDR" {
        return None;
    }
    let number =
        |range: std::ops::Range<usize>| Some(u32::from_be_bytes(png.get(range)?.try_into().ok()?));
    Some((number(16..20)?, number(20..24)?))
}
