//! Forms on another origin posting to the API, with the headers a real browser sends
//! (`Sec-Fetch-Site: same-site`, `Origin`) and the session cookie it attaches.
//!
//! With JavaScript the other page submits itself on load; without, the visitor is tricked
//! into pressing its button. Either way the site must refuse the post.

use crate::support::{Attacker, Scripting, Visit, PASSWORD};

with_and_without_javascript!(
    a_form_on_another_origin_cannot_sign_the_visitor_out,
    a_form_on_another_origin_cannot_sign_the_visitor_in,
);

async fn a_form_on_another_origin_cannot_sign_the_visitor_out(scripting: Scripting) {
    let visit = Visit::start(scripting).await;
    visit.sign_up("Victim_Example").await;
    let attacker = Attacker::start(visit.site.origin(), "", "").await;

    lure(&visit, &attacker, "/logout", scripting).await;

    visit.wait_for("/api/logout").await;
    assert!(visit
        .browser
        .source()
        .await
        .contains("Cross-origin request refused"));
    assert!(visit.site.logged("cross-origin write refused"));
    assert_eq!(visit.site.session_count().await, 1);
    visit.open("/").await;
    assert_eq!(visit.profile_username().await, "Victim_Example");
    visit.finish().await;
}

async fn a_form_on_another_origin_cannot_sign_the_visitor_in(scripting: Scripting) {
    let visit = Visit::start(scripting).await;
    // The attacker's own account, which a login CSRF would sign the visitor in to.
    visit.sign_up("Mallory_Example").await;
    visit.sign_out().await;
    let attacker = Attacker::start(visit.site.origin(), "Mallory_Example", PASSWORD).await;

    lure(&visit, &attacker, "/login", scripting).await;

    visit.wait_for("/api/login").await;
    assert!(visit
        .browser
        .source()
        .await
        .contains("Cross-origin request refused"));
    assert!(visit.site.logged("cross-origin write refused"));
    assert_eq!(visit.site.session_count().await, 0);
    assert!(visit.browser.cookie("auth_session").await.is_none());
    visit.open("/").await;
    visit.wait_for("/login").await;
    visit.finish().await;
}

/// Opens the other origin's page; without scripts, the visitor presses its button.
async fn lure(visit: &Visit, attacker: &Attacker, path: &str, scripting: Scripting) {
    visit.browser.open(&attacker.url(path)).await;
    if scripting == Scripting::Off {
        visit.browser.click("#claim").await;
    }
}
