//! Checks on the audit log: storage, order, filters and pruning.

use std::sync::Arc;
use std::time::Duration;

use crate::adapter::Adapter;
use crate::audit::{AuditEvent, AuditFilter, AuditKind, AuditLog};
use crate::clock::from_millis;
use crate::UserId;

use super::{auth, START};

fn log(adapter: Arc<dyn Adapter>) -> (AuditLog, Arc<crate::ManualClock>) {
    let (auth, clock) = auth(adapter.clone());
    (AuditLog::new(adapter, auth.clock().clone()), clock)
}

/// An event comes back with every field as recorded, stamped with the time it was recorded.
pub async fn an_audit_event_round_trips_with_every_field(adapter: Arc<dyn Adapter>) {
    let (log, _) = log(adapter);
    let user = UserId::new("u1");
    let event = AuditEvent::new(AuditKind::SignIn)
        .with_user_id(&user)
        .with_username("Ünï")
        .with_address("2001:db8::/64")
        .with_user_agent(Some("Agent \"quoted\" 🦀"))
        .with_detail("device");

    log.record(event).await.expect("recorded");
    log.record(AuditEvent::new(AuditKind::SignOut))
        .await
        .expect("recorded");

    let events = log.recent(&AuditFilter::default()).await.expect("read");
    assert_eq!(events.len(), 2);
    let signed_in = &events[1];
    assert!(signed_in.id > 0);
    assert_eq!(signed_in.at, from_millis(START));
    assert_eq!(signed_in.kind, AuditKind::SignIn);
    assert_eq!(signed_in.user_id, Some(user));
    assert_eq!(signed_in.username.as_deref(), Some("ünï"));
    assert_eq!(signed_in.address.as_deref(), Some("2001:db8::/64"));
    assert_eq!(signed_in.user_agent.as_deref(), Some("Agent \"quoted\" 🦀"));
    assert_eq!(signed_in.detail.as_deref(), Some("device"));
    let bare = &events[0];
    assert_eq!(bare.kind, AuditKind::SignOut);
    assert_eq!(
        (bare.user_id.as_ref(), bare.username.as_ref()),
        (None, None)
    );
}

/// Events are listed newest first, by time and then by order of recording, up to the limit.
pub async fn audit_events_are_listed_newest_first_up_to_the_limit(adapter: Arc<dyn Adapter>) {
    let (log, clock) = log(adapter);
    for n in 0..5 {
        let event = AuditEvent::new(AuditKind::SignInFailed).with_detail(n.to_string());
        log.record(event).await.expect("recorded");
        if n % 2 == 0 {
            clock.advance(Duration::from_millis(1));
        }
    }

    let filter = AuditFilter {
        limit: 4,
        ..AuditFilter::default()
    };
    let events = log.recent(&filter).await.expect("read");

    let order: Vec<_> = events.iter().filter_map(|e| e.detail.as_deref()).collect();
    assert_eq!(order, ["4", "3", "2", "1"]);
    assert!(events.windows(2).all(|pair| pair[0].at >= pair[1].at));
}

/// The user filter matches a user id or a username in any case, and the kind filter a kind.
pub async fn audit_events_are_filtered_by_user_and_kind(adapter: Arc<dyn Adapter>) {
    let (log, _) = log(adapter);
    let carol = UserId::new("carolid");
    let events = [
        AuditEvent::new(AuditKind::SignUp)
            .with_user_id(&carol)
            .with_username("carol"),
        AuditEvent::new(AuditKind::SignInFailed).with_username("carol"),
        AuditEvent::new(AuditKind::SignInFailed).with_username("dave"),
        AuditEvent::new(AuditKind::SignOut).with_user_id(&carol),
    ];
    for event in events {
        log.record(event).await.expect("recorded");
    }

    let count = |user: Option<&str>, kind: Option<AuditKind>| {
        let filter = AuditFilter {
            user: user.map(str::to_owned),
            kind,
            limit: 100,
        };
        let log = log.clone();
        async move { log.recent(&filter).await.expect("read").len() }
    };

    assert_eq!(count(Some("CAROL"), None).await, 2);
    assert_eq!(count(Some("carolid"), None).await, 2);
    assert_eq!(count(None, Some(AuditKind::SignInFailed)).await, 2);
    assert_eq!(count(Some("carol"), Some(AuditKind::SignInFailed)).await, 1);
    assert_eq!(count(Some("nobody"), None).await, 0);
    assert_eq!(count(None, Some(AuditKind::PasswordChanged)).await, 0);
}

/// Pruning deletes the events older than the retention period and keeps the rest.
pub async fn old_audit_events_are_pruned(adapter: Arc<dyn Adapter>) {
    let (log, clock) = log(adapter);
    let day = Duration::from_secs(24 * 60 * 60);
    for _ in 0..3 {
        log.record(AuditEvent::new(AuditKind::SignIn))
            .await
            .expect("recorded");
        clock.advance(day);
    }

    let pruned = log.prune(day * 2).await.expect("pruned");

    assert_eq!(pruned, 1);
    let left = log.recent(&AuditFilter::default()).await.expect("read");
    assert_eq!(left.len(), 2);
    assert_eq!(log.prune(day * 2).await.expect("pruned"), 0);
}
