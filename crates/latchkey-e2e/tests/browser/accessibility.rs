//! Whether people who use a keyboard, a screen reader or a dark screen can use the pages:
//! axe-core's rules on every page in both colour schemes, and what axe cannot judge alone
//! (tab order, focus that shows and stays, errors tied to the fields).

use fantoccini::key::Key;
use serde_json::json;

use crate::support::axe::{self, Violation};
use crate::support::pages::Page;
use crate::support::{Scheme, Scripting, Visit, DESKTOP, PHONE};

#[tokio::test]
async fn no_page_has_serious_accessibility_violations_in_light_or_dark_mode() {
    let visit = Visit::start(Scripting::On).await;
    let mut serious = Vec::new();

    for page in Page::ALL {
        page.show(&visit).await;
        for scheme in [Scheme::Light, Scheme::Dark] {
            visit.browser.emulate(DESKTOP, scheme).await;
            let report = axe::check(&visit.browser).await;

            // Every finding goes to the test's output; the serious ones fail it.
            println!(
                "axe on {} ({}): {} rules hold, {} broken",
                page.name(),
                scheme.name(),
                report.passes,
                report.violations.len()
            );
            for violation in report.violations {
                println!("{violation}");
                if violation.is_serious() {
                    serious.push((page, scheme, violation));
                }
            }
        }
    }

    assert!(serious.is_empty(), "{}", report(&serious));
    visit.finish().await;
}

#[tokio::test]
async fn axe_catches_a_field_without_a_label_and_text_without_contrast() {
    let visit = Visit::start(Scripting::On).await;
    visit.open("/login").await;

    visit
        .browser
        .execute(
            "document.querySelector('label[for=username]').remove();
             document.querySelector('.hint').style.color = 'rgb(200, 200, 200)';",
            vec![],
        )
        .await;
    let report = axe::check(&visit.browser).await;

    let serious: Vec<&str> = report
        .violations
        .iter()
        .filter(|violation| violation.is_serious())
        .map(|violation| violation.rule.as_str())
        .collect();
    assert!(serious.contains(&"label"), "{serious:?}");
    assert!(serious.contains(&"color-contrast"), "{serious:?}");
    visit.finish().await;
}

fn report(violations: &[(Page, Scheme, Violation)]) -> String {
    let mut text = String::from("axe found serious violations:\n");
    for (page, scheme, violation) in violations {
        text.push_str(&format!("{} ({}): {violation}", page.name(), scheme.name()));
    }
    text
}

#[tokio::test]
async fn the_sign_in_form_is_usable_from_the_keyboard_in_reading_order() {
    let visit = Visit::start(Scripting::On).await;
    let browser = &visit.browser;
    visit.open("/login").await;

    let mut order = vec![browser.focused().await];
    browser.fill("username", "Nobody_Here").await;
    for _ in 0..3 {
        browser.press(Key::Tab).await;
        order.push(browser.focused().await);
        assert!(
            browser.focus_is_visible().await,
            "{} has no visible focus indicator",
            order.last().map(String::as_str).unwrap_or_default()
        );
    }

    assert_eq!(
        order,
        [
            "input #username",
            "input #password",
            "button Sign in",
            "a Create an account"
        ]
    );

    // Back on the button, Enter submits; a failed attempt leaves focus where it was, so a
    // keyboard user does not have to find their place again.
    browser.click("#password").await;
    browser.fill("password", "not the password").await;
    browser.press(Key::Tab).await;
    browser.press(Key::Enter).await;
    browser
        .wait_for_text("#form-error", "Incorrect username or password")
        .await;
    assert_eq!(browser.focused().await, "button Sign in");
    visit.finish().await;
}

#[tokio::test]
async fn every_field_has_a_label_and_hints_and_errors_are_tied_to_it() {
    let visit = Visit::start(Scripting::On).await;

    for page in [Page::SignUp, Page::SignIn] {
        page.show(&visit).await;

        let fields = visit
            .browser
            .execute(
                "return [...document.querySelectorAll('input')].map((input) => ({
                   id: input.id,
                   labels: [...input.labels].map((label) => label.textContent.trim()),
                   describedBy: input.getAttribute('aria-describedby').split(' ')
                     .map((id) => document.getElementById(id) ? id : 'missing ' + id),
                 }));",
                vec![],
            )
            .await;
        assert_eq!(
            fields,
            json!([
                {
                    "id": "username",
                    "labels": ["Username"],
                    "describedBy": ["username-hint", "form-error"],
                },
                {
                    "id": "password",
                    "labels": ["Password"],
                    "describedBy": ["password-hint", "form-error"],
                },
            ]),
            "on {}",
            page.name()
        );
        let document = visit
            .browser
            .execute(
                "return [document.documentElement.lang,
                         document.getElementById('form-error').getAttribute('role')];",
                vec![],
            )
            .await;
        assert_eq!(document, json!(["en", "alert"]), "on {}", page.name());
    }
    visit.finish().await;
}

#[tokio::test]
async fn the_pages_follow_the_system_colour_scheme() {
    let visit = Visit::start(Scripting::On).await;
    visit.open("/login").await;

    for (viewport, scheme) in [(DESKTOP, Scheme::Light), (PHONE, Scheme::Dark)] {
        visit.browser.emulate(viewport, scheme).await;

        let background = visit.browser.luminance("body", "backgroundColor").await;
        let text = visit.browser.luminance("body", "color").await;
        match scheme {
            Scheme::Light => assert!(background > 0.8 && text < 0.1, "{background} {text}"),
            Scheme::Dark => assert!(background < 0.1 && text > 0.8, "{background} {text}"),
        }
    }
    visit.finish().await;
}
