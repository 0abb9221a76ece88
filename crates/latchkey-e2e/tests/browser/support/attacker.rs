//! A page on another origin that posts a form to the site, as a cross-site request forgery
//! would.
//!
//! It listens on another port of `127.0.0.1`: another origin, but the same site (a site is the
//! scheme and host, without the port), so the browser still attaches the `SameSite=Lax`
//! session cookie to its posts. Only the site's check of `Sec-Fetch-Site` and `Origin` stands
//! between the page and the victim's session, which is the check under test.

use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use tokio::task::JoinHandle;

/// The other origin's server; stops when dropped.
pub struct Attacker {
    origin: String,
    server: JoinHandle<()>,
}

impl Attacker {
    /// Serves `/logout`, a form posting to the site's `/api/logout`, and `/login`, a form
    /// posting `username` and `password` to the site's `/api/login`. Each page submits itself
    /// when scripts run, and otherwise waits for the victim to press its button.
    pub async fn start(site_origin: &str, username: &str, password: &str) -> Attacker {
        let pages = Pages {
            logout: page(&format!("{site_origin}/api/logout"), ""),
            login: page(
                &format!("{site_origin}/api/login"),
                &format!(
                    r#"<input name="username" value="{username}"><input name="password" value="{password}">"#
                ),
            ),
        };
        let app = Router::new()
            .route(
                "/logout",
                get(|State(pages): State<Pages>| async move { Html(pages.logout) }),
            )
            .route(
                "/login",
                get(|State(pages): State<Pages>| async move { Html(pages.login) }),
            )
            .with_state(pages);

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port for the other origin");
        let address = listener.local_addr().expect("its address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Attacker {
            origin: format!("http://{address}"),
            server,
        }
    }

    /// The address of `path` on the other origin.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }
}

impl Drop for Attacker {
    fn drop(&mut self) {
        self.server.abort();
    }
}

#[derive(Clone)]
struct Pages {
    logout: String,
    login: String,
}

fn page(action: &str, fields: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<title>You won a prize</title>
<form method="post" action="{action}">{fields}<button id="claim">Claim your prize</button></form>
<script>document.forms[0].submit()</script>
</html>"#
    )
}
