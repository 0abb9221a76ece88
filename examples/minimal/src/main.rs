//! The smallest useful app on Latchkey: JSON sign-up and sign-in, a greeting for the signed-in
//! user, and sign-out, over an embedded SQLite file.
//!
//! ```text
//! cargo run -p latchkey-example-minimal
//! curl -i -c jar -H 'content-type: application/json' \
//!      -d '{"username":"alice","password":"correct horse"}' localhost:4000/signup
//! curl -b jar localhost:4000/
//! ```

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use latchkey::{Auth, Error, NewKey, Password, Username};
use latchkey_axum::{AuthLayer, AuthRequest, CookieConfig};
use latchkey_sqlite::SqliteAdapter;
use serde::{Deserialize, Serialize};

/// What this app keeps about a user.
#[derive(Clone, Serialize, Deserialize)]
struct Account {
    username: String,
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

type Session = AuthRequest<Account>;
type Reply = (StatusCode, String);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let adapter = SqliteAdapter::connect("example.db").await?;
    let auth: Auth<Account> = Auth::builder(adapter).build()?;

    // Validation queues sessions' last-seen times; writing them here means no request has to.
    let background = auth.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            every.tick().await;
            let _ = background.flush_session_activity().await;
        }
    });

    let app = Router::new()
        .route("/", get(greet))
        .route("/signup", post(sign_up))
        .route("/login", post(sign_in))
        .route("/logout", post(sign_out))
        // Plain HTTP on localhost for the example; a real deployment keeps Secure cookies.
        .layer(AuthLayer::new(auth).cookies(CookieConfig::default().insecure_cookies(true)));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:4000").await?;
    axum::serve(listener, app).await?;
    Ok(())
}

async fn greet(session: Session) -> Reply {
    match session.validate().await {
        Ok(Some(valid)) => (
            StatusCode::OK,
            format!("hello, {}\n", valid.user.attributes.username),
        ),
        Ok(None) => (StatusCode::UNAUTHORIZED, "sign in first\n".to_owned()),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "try again later\n".to_owned(),
        ),
    }
}

async fn sign_up(session: Session, Json(input): Json<Credentials>) -> Reply {
    let Ok(name) = Username::parse(&input.username, 4..=31) else {
        return (StatusCode::BAD_REQUEST, "invalid username\n".to_owned());
    };
    let key = NewKey::new("username", name.lookup()).with_password(Password::new(input.password));
    let account = Account {
        username: name.display().to_owned(),
    };
    match session.auth().create_user(Some(key), account).await {
        Ok(user) => start_session(&session, &user.id).await,
        Err(Error::DuplicateKey) => (StatusCode::BAD_REQUEST, "username taken\n".to_owned()),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "failed\n".to_owned()),
    }
}

async fn sign_in(session: Session, Json(input): Json<Credentials>) -> Reply {
    let Ok(name) = Username::parse(&input.username, 1..=31) else {
        return (StatusCode::BAD_REQUEST, "invalid username\n".to_owned());
    };
    let password = Password::new(input.password);
    match session
        .auth()
        .sign_in_with_password("username", name.lookup(), &password)
        .await
    {
        Ok(user) => start_session(&session, &user.id).await,
        Err(Error::InvalidCredentials) => (
            StatusCode::BAD_REQUEST,
            "incorrect username or password\n".to_owned(),
        ),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "failed\n".to_owned()),
    }
}

async fn sign_out(session: Session) -> Reply {
    let Ok(Some(valid)) = session.validate().await else {
        return (StatusCode::UNAUTHORIZED, "not signed in\n".to_owned());
    };
    if session
        .auth()
        .invalidate_session(&valid.session.id)
        .await
        .is_err()
    {
        return (StatusCode::INTERNAL_SERVER_ERROR, "failed\n".to_owned());
    }
    session.set_session(None);
    (StatusCode::OK, "signed out\n".to_owned())
}

async fn start_session(session: &Session, user_id: &latchkey::UserId) -> Reply {
    match session.auth().create_session(user_id, ()).await {
        Ok(issued) => {
            session.set_session(Some(&issued));
            (StatusCode::OK, "signed in\n".to_owned())
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "failed\n".to_owned()),
    }
}
