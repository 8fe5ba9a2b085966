//! What the REST API asks of a room: comment anchors and versions, answered only once
//! what they name is durable.

use tokio::sync::oneshot;

use super::*;
use crate::realtime::room::anchors::AnchorAt;
use crate::realtime::room::live::Answer;

#[test]
fn a_comment_anchor_on_text_not_yet_durable_is_answered_after_its_commit() {
    let mut f = Fixture::new(config());
    let a = f.join("A", Access::ReadWrite, user("a"), false);
    f.send(a, update(&edit(1, "fresh words")));
    let (_, seqs) = f.take_persists();
    let (reply, mut rx) = oneshot::channel();
    f.room.anchor(AnchorAt::Range { index: 6, length: 5 }, reply);
    assert!(f.take().is_empty(), "held behind the commit");
    f.room.committed(seqs[0], committed());
    let answers =
        f.room.take_effects().into_iter().filter_map(|e| if let Effect::Answer(a) = e { Some(a) } else { None });
    answers.for_each(Answer::send);
    assert_eq!(rx.try_recv().unwrap().unwrap().quote, "words");
}

#[test]
fn a_version_holds_only_durable_text_and_is_saved_once_per_round_of_edits() {
    let mut f = Fixture::new(config());
    f.room.load(&StoredDoc::default(), true).unwrap();
    let a = f.join("A", Access::ReadWrite, user("a"), false);
    f.room.save_version();
    assert!(f.take().is_empty(), "no edits, no version");
    f.send(a, update(&edit(1, "draft")));
    let (_, seqs) = f.take_persists();
    f.room.save_version();
    assert!(f.take().is_empty(), "held behind the commit");
    f.room.committed(seqs[0], committed());
    assert_eq!(f.take(), ["all <- update", "publish update", "version \"draft\""]);
    f.room.save_version();
    assert!(f.take().is_empty(), "nothing new since");
    // Closing after more edits saves one more.
    f.send(a, update(&edit(2, "more")));
    let (_, seqs) = f.take_persists();
    f.room.committed(seqs[0], committed());
    f.take();
    f.room.finish(Stop::Idle);
    let effects = f.take();
    assert!(
        effects.iter().any(|e| e.starts_with("version") && e.contains("draft") && e.contains("more")),
        "{effects:?}"
    );
}
