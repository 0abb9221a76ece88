//! Device cookies: a browser that signed in to an account before keeps signing in to it while
//! the account is under attack.
//!
//! This is OWASP's "Slow Down Online Guessing Attacks with Device Cookies": a per-account
//! lockout alone lets an attacker lock the owner out by failing on purpose. After a successful
//! sign-in the server hands the browser a cookie that names the account and a random device
//! id, signed with HMAC-SHA-256 under a key only the servers hold. A sign-in that brings a
//! valid cookie for the account it signs in to is counted against that device instead of the
//! account ([`Subject::Device`](crate::throttle::Subject::Device)), so it is exempt from the
//! account's delay but has a delay of its own after repeated failures: a stolen cookie is one
//! more throttled guesser, not a way around the throttle.
//!
//! The account is not written in the cookie but bound into the signature, so a cookie says
//! nothing about whose it is, and one issued for one account is worthless for another. The
//! cookie also carries its expiry, which the signature covers. Verification compares in
//! constant time. The key is a server secret kept in the database ([`DeviceKey::load`]), made
//! once and shared by every server; deleting it (`server_secrets` row `device-cookie-key`)
//! voids every device cookie.
//!
//! TODO: whoever holds a copy of the database holds the key, and can mint device cookies for
//! any account, each with its own allowance of failures; only the per-client buckets then
//! bound their guessing. Recording issued device ids server-side, or keeping the key outside
//! the database, would close that gap.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::adapter::Adapter;
use crate::error::{Error, StorageError};

/// The name under which the key is stored with [`Adapter::server_secret`].
pub const KEY_NAME: &str = "device-cookie-key";

/// Bytes of randomness in a device id.
const ID_BYTES: usize = 16;

/// Separates the signature's purpose from any other use of the key.
const CONTEXT: &[u8] = b"latchkey device cookie v1";

/// A browser's device id: 32 lowercase hex digits drawn from the OS CSPRNG.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeviceId(String);

impl DeviceId {
    /// A fresh random id.
    pub fn generate() -> Self {
        let mut bytes = [0_u8; ID_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn parse(text: &str) -> Option<Self> {
        let well_formed = text.len() == ID_BYTES * 2
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        well_formed.then(|| Self(text.to_owned()))
    }
}

/// The key that signs device cookies. Redacted `Debug`, wiped on drop.
#[derive(Clone)]
pub struct DeviceKey(Zeroizing<Vec<u8>>);

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceKey(<redacted>)")
    }
}

impl DeviceKey {
    /// The key stored in the database, made and stored first if there is none. Every server
    /// on one database gets the same key.
    ///
    /// # Errors
    ///
    /// Storage errors, or a stored key too short to be one.
    pub async fn load(adapter: &dyn Adapter) -> Result<Self, Error> {
        let mut candidate = Zeroizing::new(vec![0_u8; 32]);
        rand::rngs::OsRng.fill_bytes(&mut candidate);

        let stored = Zeroizing::new(adapter.server_secret(KEY_NAME, &candidate).await?);
        if stored.len() < 32 {
            return Err(Error::Storage(StorageError::new(
                "device cookie key too short",
            )));
        }
        Ok(Self::from_bytes(&stored))
    }

    /// A key from bytes, for tests and for keys kept elsewhere. At least 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }

    /// The cookie value that binds `device` to the account with this key until `expires`.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use latchkey::device::{DeviceId, DeviceKey};
    ///
    /// let key = DeviceKey::from_bytes(&[7; 32]);
    /// let now = SystemTime::now();
    /// let device = DeviceId::generate();
    /// let cookie = key.issue("username", "alice", &device, now + Duration::from_secs(60));
    ///
    /// assert_eq!(key.verify(&cookie, "username", "alice", now), Some(device));
    /// assert_eq!(key.verify(&cookie, "username", "bob", now), None);
    /// ```
    pub fn issue(
        &self,
        provider_id: &str,
        provider_user_id: &str,
        device: &DeviceId,
        expires: SystemTime,
    ) -> String {
        let expires = seconds(expires);
        let tag = self
            .mac(provider_id, provider_user_id, expires, device)
            .finalize()
            .into_bytes();
        format!("{expires}.{}.{}", device.as_str(), hex::encode(tag))
    }

    /// The device a cookie value names, when it was issued by this key for this account and
    /// has not expired at `now`. Anything else, malformed or forged, is `None`.
    pub fn verify(
        &self,
        cookie: &str,
        provider_id: &str,
        provider_user_id: &str,
        now: SystemTime,
    ) -> Option<DeviceId> {
        let mut parts = cookie.split('.');
        let (expires, device, tag) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || expires.len() > 20 || tag.len() != 64 {
            return None;
        }
        let expires: u64 = expires.parse().ok()?;
        let device = DeviceId::parse(device)?;
        let tag = hex::decode(tag).ok()?;

        let mac = self.mac(provider_id, provider_user_id, expires, &device);
        mac.verify_slice(&tag).ok()?;
        (seconds(now) < expires).then_some(device)
    }

    /// The MAC over every field, each prefixed with its length so none can run into the next.
    fn mac(
        &self,
        provider_id: &str,
        provider_user_id: &str,
        expires: u64,
        device: &DeviceId,
    ) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("hmac accepts every key length"));
        let expires = expires.to_string();
        let fields = [
            CONTEXT,
            provider_id.as_bytes(),
            provider_user_id.as_bytes(),
            expires.as_bytes(),
            device.as_str().as_bytes(),
        ];
        for field in fields {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field);
        }
        mac
    }
}

/// How long a device cookie lasts by default: a year, renewed at each sign-in.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);

fn seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DeviceKey {
        DeviceKey::from_bytes(&[42; 32])
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    #[test]
    fn a_cookie_verifies_for_its_account_until_it_expires() {
        let device = DeviceId::generate();
        let cookie = key().issue(
            "username",
            "alice",
            &device,
            now() + Duration::from_secs(10),
        );

        assert_eq!(
            key().verify(&cookie, "username", "alice", now()),
            Some(device)
        );
        let later = now() + Duration::from_secs(10);
        assert_eq!(key().verify(&cookie, "username", "alice", later), None);
    }

    #[test]
    fn a_cookie_is_worthless_for_another_account_provider_or_key() {
        let cookie = key().issue(
            "username",
            "alice",
            &DeviceId::generate(),
            now() + Duration::from_secs(10),
        );
        let other_key = DeviceKey::from_bytes(&[43; 32]);

        assert_eq!(key().verify(&cookie, "username", "alicf", now()), None);
        assert_eq!(key().verify(&cookie, "email", "alice", now()), None);
        assert_eq!(other_key.verify(&cookie, "username", "alice", now()), None);
    }

    #[test]
    fn any_change_to_a_cookie_breaks_it() {
        let device = DeviceId::generate();
        let cookie = key().issue(
            "username",
            "alice",
            &device,
            now() + Duration::from_secs(10),
        );

        for index in 0..cookie.len() {
            let mut bytes = cookie.clone().into_bytes();
            bytes[index] = if bytes[index] == b'0' { b'1' } else { b'0' };
            let changed = String::from_utf8(bytes).expect("ascii");
            if changed != cookie {
                assert_eq!(key().verify(&changed, "username", "alice", now()), None);
            }
        }
        let pushed_expiry = cookie.replacen(char::is_numeric, "9", 1);
        assert_eq!(
            key().verify(&pushed_expiry, "username", "alice", now()),
            None
        );
    }

    #[test]
    fn malformed_cookies_are_refused_without_panicking() {
        let long = "9".repeat(400);
        for cookie in [
            "",
            ".",
            "..",
            "1.2.3.4",
            "x.00000000000000000000000000000000.00",
            long.as_str(),
            "18446744073709551616.00000000000000000000000000000000.",
        ] {
            assert_eq!(key().verify(cookie, "username", "alice", now()), None);
        }
    }

    #[test]
    fn the_key_never_prints() {
        assert_eq!(format!("{:?}", key()), "DeviceKey(<redacted>)");
    }
}
