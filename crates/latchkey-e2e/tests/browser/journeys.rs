//! Signing up, in and out, as a person does it: typing into the pages and pressing buttons,
//! with the page's script submitting the forms and, without JavaScript, the browser posting
//! them itself.

use crate::support::{Scripting, Visit, PASSWORD};

with_and_without_javascript!(
    signing_up_shows_the_new_profile_with_a_secure_session_cookie,
    signing_out_ends_the_session_and_returns_to_the_sign_in_page,
    signing_in_accepts_the_username_in_another_case,
    a_wrong_password_shows_the_message_beside_the_form,
    a_signed_in_visitor_opening_the_sign_in_page_lands_on_the_profile,
);

mod after_signing_out_the_back_button_does_not_show_the_profile {
    use crate::support::Scripting;

    #[tokio::test]
    async fn with_javascript() {
        super::after_signing_out_the_back_button_does_not_show_the_profile(Scripting::On).await;
    }

    // Chromium keeps `no-store` pages in its back/forward cache; without the page's script,
    // what evicts the profile is the sign-in page after a sign-out, whose stylesheet answers
    // with `Clear-Site-Data: "cache"`.
    #[tokio::test]
    async fn without_javascript() {
        super::after_signing_out_the_back_button_does_not_show_the_profile(Scripting::Off).await;
    }
}

async fn signing_up_shows_the_new_profile_with_a_secure_session_cookie(scripting: Scripting) {
    let visit = Visit::start(scripting).await;

    visit.sign_up("Alice_Example").await;

    assert_eq!(visit.profile_username().await, "Alice_Example");
    assert!(!visit.browser.text("dl dd code").await.is_empty());
    // Chromium keeps a `Secure` cookie from http://127.0.0.1: loopback is a secure context.
    let cookie = visit
        .browser
        .cookie("auth_session")
        .await
        .expect("the browser keeps the session cookie");
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(cookie.http_only(), Some(true));
    let same_site = cookie.same_site().map(|policy| policy.to_string());
    assert_eq!(same_site.as_deref(), Some("Lax"));
    assert_eq!(visit.site.session_count().await, 1);
    visit.finish().await;
}

async fn signing_out_ends_the_session_and_returns_to_the_sign_in_page(scripting: Scripting) {
    let visit = Visit::start(scripting).await;
    visit.sign_up("Alice_Example").await;

    visit.sign_out().await;

    assert_eq!(visit.browser.heading().await, "Sign in");
    assert!(visit.browser.cookie("auth_session").await.is_none());
    assert_eq!(visit.site.session_count().await, 0);
    visit.open("/").await;
    visit.wait_for("/login").await;
    visit.finish().await;
}

async fn signing_in_accepts_the_username_in_another_case(scripting: Scripting) {
    let visit = Visit::start(scripting).await;
    visit.sign_up("Alice_Example").await;
    visit.sign_out().await;

    visit.sign_in("aLICE_eXAMPLE").await;

    assert_eq!(visit.profile_username().await, "Alice_Example");
    assert_eq!(visit.site.session_count().await, 1);
    visit.finish().await;
}

async fn a_wrong_password_shows_the_message_beside_the_form(scripting: Scripting) {
    let visit = Visit::start(scripting).await;
    visit.sign_up("Alice_Example").await;
    visit.sign_out().await;

    visit
        .submit_credentials("Alice_Example", "not the password")
        .await;

    // The script shows the message in place, on the sign-in page the sign-out led to;
    // without it the server answers the post with the page again.
    let page = match scripting {
        Scripting::On => "/login?signed-out",
        Scripting::Off => "/api/login",
    };
    visit.wait_for(page).await;
    visit
        .browser
        .wait_for_text("#form-error", "Incorrect username or password")
        .await;
    if scripting == Scripting::Off {
        assert_eq!(visit.browser.title().await, "Error: Sign in · Latchkey");
    }
    let placement = visit
        .browser
        .execute(
            "const error = document.getElementById('form-error');
             const form = error.closest('form');
             const username = document.getElementById('username');
             const describes = (id) => document.getElementById(id)
                 .getAttribute('aria-describedby').split(' ').includes('form-error');
             return {
               inForm: form !== null && form.contains(username),
               beforeFields: Boolean(error.compareDocumentPosition(username)
                 & Node.DOCUMENT_POSITION_FOLLOWING),
               role: error.getAttribute('role'),
               describesFields: describes('username') && describes('password'),
               visible: error.getBoundingClientRect().height > 0,
             };",
            vec![],
        )
        .await;
    assert_eq!(
        placement,
        serde_json::json!({
            "inForm": true,
            "beforeFields": true,
            "role": "alert",
            "describesFields": true,
            "visible": true,
        })
    );
    assert_eq!(
        visit.browser.property("#username", "value").await,
        "Alice_Example"
    );
    assert_eq!(visit.site.session_count().await, 0);

    // The page with the message still signs in.
    visit.browser.fill("password", PASSWORD).await;
    visit.browser.click("button[type=submit]").await;
    visit.wait_for("/").await;
    assert_eq!(visit.profile_username().await, "Alice_Example");
    visit.finish().await;
}

async fn a_signed_in_visitor_opening_the_sign_in_page_lands_on_the_profile(scripting: Scripting) {
    let visit = Visit::start(scripting).await;
    visit.sign_up("Alice_Example").await;

    for page in ["/login", "/signup"] {
        visit.open(page).await;

        visit.wait_for("/").await;
        assert_eq!(visit.profile_username().await, "Alice_Example");
    }
    visit.finish().await;
}

async fn after_signing_out_the_back_button_does_not_show_the_profile(scripting: Scripting) {
    let visit = Visit::start(scripting).await;
    visit.sign_up("Alice_Example").await;
    visit.sign_out().await;

    visit.browser.back().await;

    // The profile is `no-store`, so going back asks the server again, which sends the
    // signed-out visitor to sign in.
    visit.wait_for("/login").await;
    let navigation = visit
        .browser
        .execute(
            "const entry = performance.getEntriesByType('navigation')[0];
             return [entry.type, entry.redirectCount];",
            vec![],
        )
        .await;
    assert_eq!(navigation, serde_json::json!(["back_forward", 1]));
    assert_eq!(visit.browser.heading().await, "Sign in");
    assert!(!visit.browser.source().await.contains("Alice_Example"));
    visit.finish().await;
}

#[tokio::test]
async fn a_profile_restored_by_the_back_button_after_signing_out_is_asked_for_again() {
    let visit = Visit::start(Scripting::On).await;

    // Forms the browser posts itself, as when the script has not loaded yet: Chromium then
    // keeps the `no-store` profile in its back/forward cache, and the page's script must not
    // let it be shown as it was.
    visit.open("/signup").await;
    visit.browser.fill("username", "Alice_Example").await;
    visit.browser.fill("password", PASSWORD).await;
    visit.browser.submit_without_script().await;
    visit.wait_for("/").await;
    visit.browser.submit_without_script().await;
    visit.wait_for("/login?signed-out").await;

    visit.browser.back().await;

    visit.wait_for("/login").await;
    assert_eq!(visit.browser.heading().await, "Sign in");
    assert!(!visit.browser.source().await.contains("Alice_Example"));
    visit.finish().await;
}
