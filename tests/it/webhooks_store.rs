//! The webhook outbox's store contract, on SQLite and Postgres alike: claims are leased to
//! one claimer and handed out one per hook, a paused hook waits, pings are one at a time
//! and count toward the pending cap, and the cap is the server's current one.

use std::sync::Arc;

use tandem::ids::{UserId, WebhookId, WorkspaceId};
use tandem::store::Store;
use tandem::store::catalog::{NewUser, now_ms};
use tandem::store::webhooks::{Attempt, Ping, Webhook};

/// Generates `<name>_sqlite` and `<name>_postgres` from one async test body.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(crate::store::sqlite().await.store).await } )* }
        mod postgres_backend { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(crate::store::postgres().await.store).await } )* }
    };
}

contract!(
    deliveries_are_claimed_one_per_hook_and_leased_to_one_claimer,
    a_paused_hook_waits_and_pings_still_go,
    pings_wait_one_at_a_time_and_count_toward_the_current_cap,
);

const EVENT: &str = "member.added";

async fn workspace(s: &Arc<dyn Store>) -> (UserId, WorkspaceId) {
    let user =
        NewUser { email: Some("ann@example.com".into()), name: "ann".into(), password_hash: None, external: None };
    let user = s.create_user(user).await.unwrap();
    let ws = s.create_workspace("w", &user.id, false).await.unwrap();
    (user.id, ws.id)
}

async fn hook(s: &Arc<dyn Store>, ws: &WorkspaceId, by: &UserId) -> Webhook {
    let hook = Webhook {
        id: WebhookId::random(),
        workspace_id: ws.clone(),
        url: "http://127.0.0.1:9/".into(),
        events: vec![EVENT.into()],
        created_by: Some(by.clone()),
        created_at: now_ms(),
        failures: 0,
        disabled_at: None,
    };
    assert!(s.create_webhook(&hook, "secret", 20).await.unwrap());
    hook
}

fn answered(status: i64, pause_hook_until: Option<i64>) -> Attempt {
    Attempt {
        delivered: (200..300).contains(&status),
        status: (status > 0).then_some(status),
        error: None,
        latency_ms: 5,
        retry_at: (!(200..300).contains(&status)).then_some(0),
        disable_after: 5,
        pause_hook_until,
    }
}

/// Several claimers (nodes sharing the database) never hold one delivery at once, and
/// never more than one of a hook: a hook with a long backlog takes one sender. A lease
/// that runs out lets the row go again, and the old holder's outcome is ignored.
async fn deliveries_are_claimed_one_per_hook_and_leased_to_one_claimer(s: Arc<dyn Store>) {
    let (ann, ws) = workspace(&s).await;
    let hooks = [hook(&s, &ws, &ann).await, hook(&s, &ws, &ann).await, hook(&s, &ws, &ann).await];
    assert_eq!(s.webhook(&ws, &hooks[0].id).await.unwrap().unwrap().created_by, Some(ann.clone()));
    let now = now_ms();
    for i in 0..10 {
        assert_eq!(s.enqueue_webhooks(&ws, EVENT, &serde_json::json!({"i": i}), now).await.unwrap(), 3);
    }
    assert_eq!(s.enqueue_webhooks(&ws, "member.removed", &serde_json::json!({}), now).await.unwrap(), 0);

    let claimers = (0..4).map(|_| {
        let s = s.clone();
        async move {
            let mut mine = Vec::new();
            for _ in 0..10 {
                let got = s.claim_deliveries(now, now + 60_000, 2).await.unwrap();
                if got.is_empty() {
                    break;
                }
                mine.extend(got);
            }
            mine
        }
    });
    let claimed: Vec<_> = futures_util::future::join_all(claimers).await.into_iter().flatten().collect();
    let mut per_hook: Vec<_> = claimed.iter().map(|c| c.hook_id.as_str().to_owned()).collect();
    per_hook.sort();
    per_hook.dedup();
    assert_eq!((claimed.len(), per_hook.len()), (3, 3), "one delivery of each hook, once");
    assert!(claimed.iter().all(|c| c.attempts == 1 && c.secret == "secret"));

    // Finishing one frees its hook's next delivery, and only that hook's.
    let first = &claimed[0];
    s.finish_delivery(first, &answered(200, None), now + 10).await.unwrap();
    let next = s.claim_deliveries(now + 20, now + 60_000, 100).await.unwrap();
    assert_eq!(next.iter().map(|c| &c.hook_id).collect::<Vec<_>>(), vec![&first.hook_id]);
    assert_ne!(next[0].id, first.id);

    // Leased: the lease running out lets the rows go again; the old holder's outcome is
    // ignored then.
    let again = s.claim_deliveries(now + 60_000, now + 120_000, 100).await.unwrap();
    assert_eq!(again.len(), 3);
    let lost = claimed.iter().find(|c| again.iter().any(|a| a.id == c.id)).unwrap();
    s.finish_delivery(lost, &answered(200, None), now + 60_500).await.unwrap();
    let log = s.deliveries(&lost.hook_id, 100, 0).await.unwrap();
    assert!(log.iter().filter(|d| d.id == lost.id).all(|d| d.state == "pending"), "a lost lease recorded an outcome");
}

/// A hook whose receiver did not answer in time is left alone until its pause ends;
/// other hooks and its own pings go on, and an answer ends the pause count.
async fn a_paused_hook_waits_and_pings_still_go(s: Arc<dyn Store>) {
    let (ann, ws) = workspace(&s).await;
    let (slow, quick) = (hook(&s, &ws, &ann).await, hook(&s, &ws, &ann).await);
    let now = now_ms();
    for i in 0..3 {
        s.enqueue_webhooks(&ws, EVENT, &serde_json::json!({"i": i}), now).await.unwrap();
    }
    let claimed = s.claim_deliveries(now, now + 60_000, 100).await.unwrap();
    let of = |h: &Webhook| claimed.iter().find(|c| c.hook_id == h.id).unwrap().clone();
    let (timed_out, fine) = (of(&slow), of(&quick));
    assert_eq!(timed_out.hook_timeouts, 0);
    let mut attempt = answered(0, Some(now + 30_000));
    attempt.retry_at = Some(now + 1);
    s.finish_delivery(&timed_out, &attempt, now + 1).await.unwrap();
    s.finish_delivery(&fine, &answered(200, None), now + 1).await.unwrap();

    let due = s.claim_deliveries(now + 2, now + 60_000, 100).await.unwrap();
    assert_eq!(due.iter().map(|c| &c.hook_id).collect::<Vec<_>>(), vec![&quick.id], "the paused hook waits");
    let ping = s.enqueue_ping(&slow, now + 2).await.unwrap();
    let due = s.claim_deliveries(now + 3, now + 60_000, 100).await.unwrap();
    assert!(matches!(&ping, Ping::Queued(id) if due.len() == 1 && &due[0].id == id), "a ping goes: {due:?}");
    s.finish_delivery(&due[0], &answered(204, None), now + 4).await.unwrap();

    let after = s.claim_deliveries(now + 30_000, now + 90_000, 100).await.unwrap();
    let resumed = after.iter().find(|c| c.hook_id == slow.id).expect("the pause ended");
    assert_eq!(resumed.hook_timeouts, 0, "the ping's answer reset the count");
}

/// A hook holds at most one ping waiting; pings count toward `--webhook-max-pending`, and
/// the limit is the one set now, whatever it was when the hook was made.
async fn pings_wait_one_at_a_time_and_count_toward_the_current_cap(s: Arc<dyn Store>) {
    let (ann, ws) = workspace(&s).await;
    let h = hook(&s, &ws, &ann).await;
    let now = now_ms();
    let Ping::Queued(first) = s.enqueue_ping(&h, now).await.unwrap() else { panic!("the first ping is queued") };
    assert_eq!(s.enqueue_ping(&h, now + 1).await.unwrap(), Ping::Waiting(first.clone()));
    assert_eq!(s.deliveries(&h.id, 100, 0).await.unwrap().len(), 1);

    // Made under the default limit; the limit set now holds: 1 ping + 3 events fill 4.
    s.set_webhook_max_pending(4);
    for i in 0..3 {
        assert_eq!(s.enqueue_webhooks(&ws, EVENT, &serde_json::json!({"i": i}), now).await.unwrap(), 1);
    }
    assert_eq!(s.enqueue_webhooks(&ws, EVENT, &serde_json::json!({"i": 3}), now + 5).await.unwrap(), 0);
    let stored = s.webhook(&ws, &h.id).await.unwrap().unwrap();
    assert_eq!(stored.disabled_at, Some(now + 5));
    let log = s.deliveries(&h.id, 100, 0).await.unwrap();
    let failed = log.iter().filter(|d| d.state == "failed").count();
    assert_eq!((log.len(), failed), (4, 3), "the events failed, the ping waits");
    assert_eq!(s.enqueue_ping(&stored, now + 6).await.unwrap(), Ping::Waiting(first.clone()));
    let due = s.claim_deliveries(now + 7, now + 60_000, 100).await.unwrap();
    assert_eq!(due.iter().map(|c| &c.id).collect::<Vec<_>>(), vec![&first], "a disabled hook's ping goes");
}
