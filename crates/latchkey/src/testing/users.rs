//! Checks on users.

use std::sync::Arc;

use crate::adapter::{KeyRow, UserRow};
use crate::{Adapter, AdapterError, Error, NewKey, Password, UserId};

use super::{auth, Device, Profile};

/// Creating a user with a key stores both, linked.
pub async fn a_user_and_its_key_are_created_together(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter);

    let key = NewKey::new("username", "alice").with_password(Password::new("secret one"));
    let user = auth
        .create_user(Some(key), Profile::named("Alice"))
        .await
        .expect("created");

    assert_eq!(user.id.as_str().len(), 15);
    let key = auth.key("username", "alice").await.expect("key stored");
    assert_eq!(key.user_id, user.id);
    assert!(key.has_password);
    assert_eq!(auth.user(&user.id).await.expect("user stored"), user);
}

/// A user may have no key at all.
pub async fn a_user_without_a_key_can_be_created(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter);

    let user = auth
        .create_user(None, Profile::named("keyless"))
        .await
        .expect("created");

    assert_eq!(
        auth.user(&user.id).await.expect("stored").attributes,
        user.attributes
    );
    assert!(auth.user_keys(&user.id).await.expect("listed").is_empty());
}

/// Attributes come back exactly as they went in, whatever characters they hold.
pub async fn user_attributes_round_trip_unchanged(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter.clone());
    let profile = Profile {
        username: "Ünïcødé ＡＬＩＣＥ 🦀 '; DROP TABLE users; --".to_owned(),
        age: None,
        tags: vec![String::new(), "\u{0}nul".to_owned(), "x".repeat(5_000)],
    };

    let user = auth
        .create_user(None, profile.clone())
        .await
        .expect("created");

    assert_eq!(
        auth.user(&user.id).await.expect("stored").attributes,
        profile
    );
    let row = adapter
        .user(user.id.as_str())
        .await
        .expect("read")
        .expect("present");
    assert_eq!(
        row.attributes,
        serde_json::to_string(&profile).expect("json")
    );
}

/// A taken key is `DuplicateKey`, and the transaction leaves no second user behind.
pub async fn a_duplicate_key_is_a_typed_error_and_leaves_no_user_behind(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter.clone());
    auth.create_user(Some(NewKey::new("username", "bob")), Profile::named("bob"))
        .await
        .expect("first");

    let second_id = UserId::generate();
    let second = auth
        .create_user_with_id(
            second_id.clone(),
            Some(NewKey::new("username", "bob")),
            Profile::named("BOB"),
        )
        .await;

    assert!(matches!(second, Err(Error::DuplicateKey)), "{second:?}");
    assert!(adapter
        .user(second_id.as_str())
        .await
        .expect("read")
        .is_none());
}

/// Of many concurrent attempts to create a user with one key, exactly one wins and every
/// other gets `DuplicateKey`.
pub async fn exactly_one_of_many_concurrent_sign_ups_with_one_key_wins(adapter: Arc<dyn Adapter>) {
    const ATTEMPTS: usize = 32;
    let mut tasks = Vec::new();
    for n in 0..ATTEMPTS {
        let adapter = adapter.clone();
        tasks.push(tokio::spawn(async move {
            let user = UserRow {
                id: format!("racer{n:010}"),
                attributes: "{}".to_owned(),
            };
            let key = KeyRow {
                provider_id: "username".to_owned(),
                provider_user_id: "contested".to_owned(),
                user_id: user.id.clone(),
                hashed_password: None,
            };
            adapter.insert_user(&user, Some(&key)).await
        }));
    }

    let mut won = 0;
    for task in tasks {
        match task.await.expect("task ran") {
            Ok(()) => won += 1,
            Err(AdapterError::DuplicateKey) => {}
            Err(other) => panic!("a loser must see DuplicateKey, not {other:?}"),
        }
    }

    assert_eq!(won, 1);
    let key = adapter
        .key("username", "contested")
        .await
        .expect("read")
        .expect("stored");
    assert!(adapter.user(&key.user_id).await.expect("read").is_some());
}

/// A clash on the user id is not a clash on the key (Lucia v2 reported it as one).
pub async fn a_duplicate_user_id_is_not_reported_as_a_duplicate_key(adapter: Arc<dyn Adapter>) {
    let user = UserRow {
        id: "sameidsameid123".to_owned(),
        attributes: "{}".to_owned(),
    };
    adapter.insert_user(&user, None).await.expect("first");
    let key = KeyRow {
        provider_id: "username".to_owned(),
        provider_user_id: "fresh".to_owned(),
        user_id: user.id.clone(),
        hashed_password: None,
    };

    let second = adapter.insert_user(&user, Some(&key)).await;

    assert!(second.is_err());
    assert!(
        !matches!(second, Err(AdapterError::DuplicateKey)),
        "{second:?}"
    );
    assert!(adapter
        .key("username", "fresh")
        .await
        .expect("read")
        .is_none());
}

/// Reading an unknown user is `UnknownUser`.
pub async fn an_unknown_user_is_reported_as_unknown(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter.clone());

    let missing = auth.user(&UserId::new("nobody")).await;

    assert!(matches!(missing, Err(Error::UnknownUser)), "{missing:?}");
    assert!(adapter.user("nobody").await.expect("read").is_none());
}

/// Attributes can be replaced; replacing an unknown user's is `UnknownUser`.
pub async fn updating_user_attributes_replaces_them(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter);
    let user = auth
        .create_user(None, Profile::named("before"))
        .await
        .expect("created");

    auth.update_user_attributes(&user.id, &Profile::named("after"))
        .await
        .expect("updated");
    let missing = auth
        .update_user_attributes(&UserId::new("nobody"), &Profile::named("x"))
        .await;

    assert_eq!(
        auth.user(&user.id).await.expect("read").attributes.username,
        "after"
    );
    assert!(matches!(missing, Err(Error::UnknownUser)), "{missing:?}");
}

/// Deleting a user takes their keys and sessions with them, and deleting nobody succeeds.
pub async fn deleting_a_user_removes_their_keys_and_sessions(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter.clone());
    let user = auth
        .create_user(
            Some(NewKey::new("username", "carol")),
            Profile::named("carol"),
        )
        .await
        .expect("created");
    let issued = auth
        .create_session(&user.id, Device::default())
        .await
        .expect("session");

    auth.delete_user(&user.id).await.expect("deleted");
    auth.delete_user(&UserId::new("nobody"))
        .await
        .expect("no-op");

    assert!(matches!(auth.user(&user.id).await, Err(Error::UnknownUser)));
    assert!(matches!(
        auth.key("username", "carol").await,
        Err(Error::UnknownKey)
    ));
    assert!(matches!(
        auth.validate_session(&issued.token).await,
        Err(Error::InvalidSession)
    ));
    let session = adapter
        .session_and_user(issued.session.id.as_str())
        .await
        .expect("read");
    assert!(session.is_none());
}

/// Users are listed oldest first, a page at a time.
pub async fn users_are_listed_a_page_at_a_time(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter);
    let mut created = Vec::new();
    for n in 0..5 {
        let user = auth
            .create_user(None, Profile::named(&format!("listed{n}")))
            .await
            .expect("created");
        created.push(user.id);
        // Creation times come from the database's clock; keep them apart.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }

    let first: Vec<UserId> = auth
        .users(0, 3)
        .await
        .expect("listed")
        .into_iter()
        .map(|u| u.id)
        .collect();
    let rest: Vec<UserId> = auth
        .users(3, 3)
        .await
        .expect("listed")
        .into_iter()
        .map(|u| u.id)
        .collect();

    assert_eq!(first, created[..3]);
    assert_eq!(rest, created[3..]);
    assert!(auth.users(5, 3).await.expect("listed").is_empty());
}
