//! Empty databases, one per test.

use sqlx::{Connection, Executor, PgConnection};
use url::Url;

/// Creates a database with a random name on the server `admin_url` points at, and returns
/// the URL of the new database, with the same user, password and parameters.
///
/// # Panics
///
/// When the URL is not a PostgreSQL URL or the server cannot be reached or refuses.
pub(crate) async fn create_database(admin_url: &str) -> String {
    let name = format!("t_{:016x}", rand::random::<u64>());

    let mut admin = PgConnection::connect(admin_url)
        .await
        .unwrap_or_else(|error| {
            panic!(
                "could not connect to the test server at {}: {error}",
                redacted(admin_url)
            )
        });
    // The name is ours and made of [a-z0-9_], so it needs no quoting.
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap_or_else(|error| panic!("could not create database {name}: {error}"));
    let _ = admin.close().await;

    with_database(admin_url, &name)
}

/// The URL with its path replaced by a database name.
///
/// # Panics
///
/// When the URL cannot be parsed.
fn with_database(admin_url: &str, database: &str) -> String {
    let mut url = Url::parse(admin_url)
        .unwrap_or_else(|error| panic!("invalid PostgreSQL url {}: {error}", redacted(admin_url)));

    url.set_path(&format!("/{database}"));
    url.into()
}

/// The URL without its password, for messages.
pub(crate) fn redacted(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("redacted"));
            }
            url.into()
        }
        Err(_) => "<unparsable url>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_replaces_the_path_and_keeps_everything_else() {
        let url = with_database(
            "postgres://u:p@db.example:6543/postgres?sslmode=require",
            "t_1",
        );

        assert_eq!(url, "postgres://u:p@db.example:6543/t_1?sslmode=require");
    }

    #[test]
    fn a_url_without_a_path_gets_one() {
        assert_eq!(with_database("postgres://u@h", "t_1"), "postgres://u@h/t_1");
    }

    #[test]
    fn a_password_never_appears_in_a_message() {
        let shown = redacted("postgres://user:hunter2@host/db");

        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
