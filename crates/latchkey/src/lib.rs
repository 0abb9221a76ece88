//! Latchkey: username-and-password authentication.

pub mod adapter;
pub mod clock;
mod error;
pub mod password;
pub mod token;

pub use adapter::{Adapter, AdapterError};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{BoxError, Error, HashError, StorageError};
pub use password::{Argon2Params, HasherConfig, Password, PasswordHash, PasswordHasher, Verification};
pub use token::{SessionId, SessionToken};
