//! Keeps an open connection's access in step while it lives (either protocol): rechecked
//! when access changes anywhere, and now and then in case an announcement was lost.

use std::future::Future;
use std::sync::Arc;

use crate::identity::access::{Caller, Recheck, link_of_token, recheck_token};
use crate::identity::tokens::Access;
use crate::ids::{ConnId, DocId};
use crate::metrics::GaugeGuard;
use crate::realtime::room::{ConnControl, RoomHandle, close_code};
use crate::state::AppState;

/// Runs one connection's watcher of one document (from `endpoint`), counted in the active-watchers gauge from its
/// first poll until it ends or is aborted.
pub(super) async fn counted_watcher(watch: impl Future<Output = ()>, endpoint: &'static str) {
    let _active = GaugeGuard::hold(metrics::gauge!(crate::metrics::ACCESS_WATCHERS_ACTIVE, "endpoint" => endpoint));
    watch.await;
}

/// Keeps an open connection's access in step with roles, shares, links and the
/// document's existence: rechecked at once when anything changes on any node (announced
/// over the bus), and every `access_recheck` in case an announcement was lost. Lost
/// access closes with 4403, an expired, revoked or invalid token with 4401; a weaker role makes
/// the connection read-only. When the answer cannot be had (identity provider or store
/// unavailable), the connection keeps what it was granted and looks again later.
pub(super) async fn watch_socket(
    app: AppState,
    mut recheck: Recheck,
    doc: DocId,
    room: RoomHandle,
    conn: ConnId,
    control: Arc<ConnControl>,
    mut access: Access,
) {
    let mut tick = tokio::time::interval(app.config.auth.access_recheck);
    tick.reset();
    loop {
        tokio::select! {
            // A connection still read after its outgoing side closed stays watched.
            _ = control.refused() => return,
            changed = recheck.epoch.changed() => if changed.is_err() { return },
            _ = tick.tick() => {}
        }
        // The token is verified again (it may have expired, or a personal token been
        // revoked); who it names was settled at connect time.
        if let Some(token) = &recheck.token {
            match recheck_token(&app, token).await {
                Ok(()) => {}
                Err(e) if e.is_refusal() => {
                    tracing::debug!(doc = %doc, error = %e, "token no longer valid");
                    control.close(close_code::UNAUTHORIZED, "token expired or revoked");
                    return;
                }
                Err(e) => tracing::debug!(doc = %doc, error = %e, "token recheck deferred"),
            }
        }
        // A link is looked up again: it may have been revoked.
        let caller = match &recheck.caller {
            Caller::Link(link) => link_of_token(&app, &link.token).await.map(Caller::Link),
            other => Ok(other.clone()),
        };
        let role = match caller {
            Ok(caller) => caller.role_on(&app, &doc, false).await,
            Err(e) => Err(e),
        };
        match role {
            Ok((_, role)) if recheck.caller.access_of(role) != access => {
                access = recheck.caller.access_of(role);
                room.set_access(conn, access).await;
            }
            Ok(_) => {}
            Err(e) if e.is_refusal() => {
                control.close(close_code::FORBIDDEN, "access revoked");
                return;
            }
            // The store is unavailable: keep what was granted, look again later.
            Err(_) => {}
        }
    }
}
