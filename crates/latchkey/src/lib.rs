//! Latchkey: username-and-password authentication, independent of web framework and database.
//!
//! The model follows Lucia v2. A [`User`] has an id and attributes of the application's
//! choosing. A [`Key`] binds a login method to a user: a provider id such as `username`, the
//! user's identity in it, and an optional password hash. A [`Session`] is stored in the
//! database and carried by the client as a [`SessionToken`]. [`Auth`] holds the calls, over
//! any storage [`Adapter`]: `latchkey-sqlite` and `latchkey-postgres` are ours.
//!
//! Where Lucia v2 was weak, Latchkey is not: only the SHA-256 of a session token is stored;
//! sessions have an absolute lifetime and a renewed session says its cookie must be sent
//! again; a failed sign-in takes the same time whether or not the account exists; passwords
//! are hashed with Argon2id on dedicated threads, and Lucia's scrypt hashes are verified and
//! upgraded; a duplicate key is a typed error, never a driver's.
//!
//! # A round trip
//!
//! ```
//! use latchkey::{Auth, Error, NewKey, Password, Username};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Profile {
//!     username: String,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let adapter = latchkey_sqlite::SqliteAdapter::connect("sqlite::memory:").await?;
//! # let cheap = latchkey::HasherConfig {
//! #     argon2: latchkey::Argon2Params { memory_kib: 1024, iterations: 1, parallelism: 1 },
//! #     threads: 1,
//! #     ..latchkey::HasherConfig::default()
//! # };
//! let auth: Auth<Profile> = Auth::builder(adapter)
//! #   .hasher(cheap)
//!     .build()?;
//!
//! // Sign up: a user with a username key, then a session for them.
//! let name = Username::parse("Alice", 4..=31)?;
//! let key = NewKey::new("username", name.lookup()).with_password(Password::new("correct horse"));
//! let user = auth
//!     .create_user(Some(key), Profile { username: name.display().to_owned() })
//!     .await?;
//! let issued = auth.create_session(&user.id, ()).await?;
//!
//! // Sign in, in any case: the same user.
//! let lookup = Username::parse("ALICE", 1..=31)?;
//! let signed_in = auth
//!     .sign_in_with_password("username", lookup.lookup(), &Password::new("correct horse"))
//!     .await?;
//! assert_eq!(signed_in.id, user.id);
//!
//! // Each request: the client's token gives back the session and its user.
//! let valid = auth.validate_session(&issued.token).await?;
//! assert_eq!(valid.user.attributes.username, "Alice");
//!
//! // Sign out: the token no longer works.
//! auth.invalidate_session(&valid.session.id).await?;
//! assert!(matches!(auth.validate_session(&issued.token).await, Err(Error::InvalidSession)));
//! # Ok(())
//! # }
//! ```

mod activity;
pub mod adapter;
pub mod audit;
mod auth;
pub mod clock;
pub mod device;
mod error;
pub mod password;
mod session;
#[cfg(feature = "testing")]
pub mod testing;
pub mod throttle;
pub mod token;
mod user;
mod username;

pub use adapter::{Adapter, AdapterError};
pub use audit::{AuditEvent, AuditKind, AuditLog};
pub use auth::{Attributes, Auth, AuthBuilder, NewKey};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{BoxError, Error, HashError, StorageError};
pub use password::{
    Argon2Params, HasherConfig, HashingPriority, Password, PasswordHash, PasswordHasher,
    Verification, WaitObserver,
};
pub use session::{IssuedSession, Session, SessionConfig, ValidSession};
pub use throttle::{Decision, Throttle, ThrottleConfig};
pub use token::{SessionId, SessionToken};
pub use user::{Key, User, UserId};
pub use username::{lookup_form, normalize as normalize_username, Username, UsernameError};
