//! Checks on keys and passwords.

use std::sync::Arc;

use crate::adapter::KeyRow;
use crate::{Adapter, Error, NewKey, Password, PasswordHash, UserId};

use super::{auth, Profile};

/// A hash written by the real Lucia 2.7 for the password `wonderland 42`.
const LUCIA_V2_HASH: &str = "s2:sejzexi8owaadjgm:94c6991177f6ec5fab0209c531c50da84aa8efe427237322ece8b9d38d6f2c37fc76da3484b194cae8d9cff51ae75f7b3211651909e09e8e4969f8ed1f88a14e";

/// A key can be added to a user that exists, and to no other.
pub async fn a_key_can_be_added_to_an_existing_user_only(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter);
    let user = auth
        .create_user(None, Profile::named("dave"))
        .await
        .expect("created");

    let key = auth
        .create_key(&user.id, NewKey::new("email", "dave@example.com"))
        .await
        .expect("added");
    let orphan = auth
        .create_key(
            &UserId::new("nobody"),
            NewKey::new("email", "x@example.com"),
        )
        .await;
    let taken = auth
        .create_key(&user.id, NewKey::new("email", "dave@example.com"))
        .await;

    assert_eq!(key.user_id, user.id);
    assert!(!key.has_password);
    assert!(matches!(orphan, Err(Error::UnknownUser)), "{orphan:?}");
    assert!(matches!(taken, Err(Error::DuplicateKey)), "{taken:?}");
}

/// A user's keys are listed; a user without keys has none.
pub async fn keys_are_listed_by_user(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter);
    let user = auth
        .create_user(
            Some(NewKey::new("username", "erin")),
            Profile::named("erin"),
        )
        .await
        .expect("created");
    auth.create_key(&user.id, NewKey::new("email", "erin@example.com"))
        .await
        .expect("added");

    let mut providers: Vec<String> = auth
        .user_keys(&user.id)
        .await
        .expect("listed")
        .into_iter()
        .map(|key| key.provider_id)
        .collect();
    providers.sort();

    assert_eq!(providers, ["email", "username"]);
    assert!(auth
        .user_keys(&UserId::new("nobody"))
        .await
        .expect("listed")
        .is_empty());
}

/// A key's password can be set, changed and removed; an unknown key is `UnknownKey`.
pub async fn a_key_password_can_be_changed_and_removed(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter);
    let key = NewKey::new("username", "frank").with_password(Password::new("old password"));
    auth.create_user(Some(key), Profile::named("frank"))
        .await
        .expect("created");

    auth.update_key_password("username", "frank", Some(&Password::new("new password")))
        .await
        .expect("changed");
    let old = auth
        .sign_in_with_password("username", "frank", &Password::new("old password"))
        .await;
    let new = auth
        .sign_in_with_password("username", "frank", &Password::new("new password"))
        .await;
    auth.update_key_password("username", "frank", None)
        .await
        .expect("removed");
    let unknown = auth.update_key_password("username", "nobody", None).await;

    assert!(matches!(old, Err(Error::InvalidCredentials)), "{old:?}");
    assert!(new.is_ok(), "{new:?}");
    assert!(
        !auth
            .key("username", "frank")
            .await
            .expect("read")
            .has_password
    );
    assert!(matches!(unknown, Err(Error::UnknownKey)), "{unknown:?}");
}

/// Replacing a hash is a compare-and-set: it fails once the hash has changed.
pub async fn an_obsolete_hash_is_replaced_only_if_unchanged(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter.clone());
    let user = auth
        .create_user(None, Profile::named("gina"))
        .await
        .expect("created");
    let first = PasswordHash::new("first");
    adapter
        .insert_key(&KeyRow {
            provider_id: "username".to_owned(),
            provider_user_id: "gina".to_owned(),
            user_id: user.id.as_str().to_owned(),
            hashed_password: Some(first.clone()),
        })
        .await
        .expect("inserted");
    let second = PasswordHash::new("second");
    let third = PasswordHash::new("third");

    let replaced = adapter
        .replace_key_password("username", "gina", &first, &second)
        .await
        .expect("ran");
    let stale = adapter
        .replace_key_password("username", "gina", &first, &third)
        .await
        .expect("ran");

    assert!(replaced);
    assert!(!stale);
    let key = adapter
        .key("username", "gina")
        .await
        .expect("read")
        .expect("present");
    assert_eq!(key.hashed_password, Some(second));
}

/// A deleted key is gone; deleting an unknown key succeeds.
pub async fn a_key_can_be_deleted(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter);
    auth.create_user(
        Some(NewKey::new("username", "hank")),
        Profile::named("hank"),
    )
    .await
    .expect("created");

    auth.delete_key("username", "hank").await.expect("deleted");
    auth.delete_key("username", "nobody").await.expect("no-op");

    assert!(matches!(
        auth.key("username", "hank").await,
        Err(Error::UnknownKey)
    ));
}

/// `("a:b", "c")` and `("a", "b:c")` are two keys: Lucia v2 joined them with a colon.
pub async fn provider_ids_and_provider_user_ids_do_not_run_together(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter);

    let first = auth
        .create_user(Some(NewKey::new("a:b", "c")), Profile::named("one"))
        .await
        .expect("first");
    let second = auth
        .create_user(Some(NewKey::new("a", "b:c")), Profile::named("two"))
        .await
        .expect("second");

    assert_eq!(auth.key("a:b", "c").await.expect("read").user_id, first.id);
    assert_eq!(auth.key("a", "b:c").await.expect("read").user_id, second.id);
}

/// The right password signs in as the key's user.
pub async fn signing_in_with_the_right_password_returns_the_user(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter);
    let key = NewKey::new("username", "ivy").with_password(Password::new("ivy's password"));
    let user = auth
        .create_user(Some(key), Profile::named("Ivy"))
        .await
        .expect("created");

    let signed_in = auth
        .sign_in_with_password("username", "ivy", &Password::new("ivy's password"))
        .await
        .expect("signed in");

    assert_eq!(signed_in, user);
}

/// An unknown key, a key without a password and a wrong password are one error.
pub async fn every_failed_sign_in_gives_the_same_error(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter);
    let key = NewKey::new("username", "jack").with_password(Password::new("jack's password"));
    auth.create_user(Some(key), Profile::named("jack"))
        .await
        .expect("created");
    auth.create_user(
        Some(NewKey::new("username", "nopass")),
        Profile::named("nopass"),
    )
    .await
    .expect("created");
    let attempt = Password::new("guess");

    let wrong = auth
        .sign_in_with_password("username", "jack", &attempt)
        .await;
    let unknown = auth
        .sign_in_with_password("username", "nobody", &attempt)
        .await;
    let passwordless = auth
        .sign_in_with_password("username", "nopass", &attempt)
        .await;

    for outcome in [wrong, unknown, passwordless] {
        assert!(
            matches!(outcome, Err(Error::InvalidCredentials)),
            "{outcome:?}"
        );
    }
}

/// The lower-level call says which case it is.
pub async fn use_key_tells_an_unknown_key_from_a_wrong_password(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter);
    let key = NewKey::new("username", "kim").with_password(Password::new("kim's password"));
    auth.create_user(Some(key), Profile::named("kim"))
        .await
        .expect("created");
    auth.create_user(
        Some(NewKey::new("username", "nopass")),
        Profile::named("nopass"),
    )
    .await
    .expect("created");
    let guess = Password::new("guess");

    let unknown = auth.use_key("username", "nobody", Some(&guess)).await;
    let wrong = auth.use_key("username", "kim", Some(&guess)).await;
    let missing = auth.use_key("username", "kim", None).await;
    let unexpected = auth.use_key("username", "nopass", Some(&guess)).await;
    let right = auth
        .use_key("username", "kim", Some(&Password::new("kim's password")))
        .await;
    let passwordless = auth.use_key("username", "nopass", None).await;

    assert!(matches!(unknown, Err(Error::UnknownKey)), "{unknown:?}");
    for outcome in [wrong, missing, unexpected] {
        assert!(
            matches!(outcome, Err(Error::InvalidPassword)),
            "{outcome:?}"
        );
    }
    assert!(right.is_ok(), "{right:?}");
    assert!(passwordless.is_ok(), "{passwordless:?}");
}

/// A hash written by Lucia v2 verifies, and the sign-in replaces it with Argon2id.
pub async fn a_lucia_v2_hash_signs_in_and_is_upgraded_to_argon2id(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter.clone());
    let user = auth
        .create_user(None, Profile::named("Alice"))
        .await
        .expect("created");
    adapter
        .insert_key(&KeyRow {
            provider_id: "username".to_owned(),
            provider_user_id: "alice".to_owned(),
            user_id: user.id.as_str().to_owned(),
            hashed_password: Some(PasswordHash::new(LUCIA_V2_HASH)),
        })
        .await
        .expect("inserted");

    auth.sign_in_with_password("username", "alice", &Password::new("wonderland 42"))
        .await
        .expect("lucia hash verifies");

    let key = adapter
        .key("username", "alice")
        .await
        .expect("read")
        .expect("present");
    let stored = key.hashed_password.expect("has a hash");
    assert!(stored.expose_secret().starts_with("$argon2id$"));
    auth.sign_in_with_password("username", "alice", &Password::new("wonderland 42"))
        .await
        .expect("the upgraded hash verifies");
}
