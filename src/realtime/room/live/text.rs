//! What the REST API reads and writes of a live room: its state vector, its text (once
//! what it holds is durable) and the text's replacement; and the text search reads.

use tokio::sync::oneshot;
use yrs::Update;

use super::{Answer, Effect, Room};
use crate::ids::UserId;
use crate::realtime::room::anchors::{self, Anchor, AnchorAt, AnchorError, Resolution};
use crate::realtime::room::content;
use crate::realtime::room::handle::DocSnapshot;
use crate::realtime::room::handle::TextState;

impl Room {
    /// The encoded state vector, as it is now.
    pub fn state_vector(&self) -> Vec<u8> {
        content::state_vector(self.awareness.doc())
    }

    /// Answers with the text as it is now, after the commits it may include.
    pub fn text(&mut self, reply: oneshot::Sender<TextState>) {
        let state = content::text_state(self.awareness.doc());
        self.after_commits(Effect::Reply { reply, state });
    }

    /// Makes a comment anchor from the text as it is now; answers once that text is
    /// durable (an anchor never names text a crash could take back).
    pub fn anchor(&mut self, at: AnchorAt, reply: oneshot::Sender<Result<Anchor, AnchorError>>) {
        let doc = self.awareness.doc();
        let text = doc.get_or_insert_text(content::CONTENT);
        let anchor = match at {
            AnchorAt::Range { index, length } => anchors::at(doc, &text, index, length),
            AnchorAt::Encoded { start, end } => anchors::encoded(doc, &text, &start, &end),
        };
        self.after_commits(Effect::Answer(Answer::new(reply, anchor)));
    }

    /// Where stored anchors are now, in one pass over the text.
    pub fn resolve(&mut self, stored: &[(Vec<u8>, Vec<u8>)], reply: oneshot::Sender<Vec<Resolution>>) {
        let pairs: Vec<(&[u8], &[u8])> = stored.iter().map(|(a, b)| (a.as_slice(), b.as_slice())).collect();
        let doc = self.awareness.doc();
        let resolved = anchors::resolve_all(doc, &doc.get_or_insert_text(content::CONTENT), &pairs);
        self.after_commits(Effect::Answer(Answer::new(reply, resolved)));
    }

    /// The whole state and text, once what they hold is durable (for a version).
    pub fn snapshot(&mut self, reply: oneshot::Sender<DocSnapshot>) {
        let snapshot = content::snapshot(self.awareness.doc());
        self.after_commits(Effect::Answer(Answer::new(reply, snapshot)));
    }

    /// Saves an automatic version, if this room made edits since it last did (catalogued
    /// documents only, and never from a room whose store failed).
    pub fn save_version(&mut self) {
        if !self.unversioned || !self.catalogued || self.failed {
            return;
        }
        self.unversioned = false;
        let snapshot = content::snapshot(self.awareness.doc());
        self.after_commits(Effect::SaveVersion(snapshot));
    }

    /// Replaces the text by a minimal diff; answers once the change is durable.
    pub fn replace(&mut self, new: &str, by: Option<UserId>, reply: oneshot::Sender<TextState>) {
        if self.failed {
            return;
        }
        let delta = content::replace(self.awareness.doc(), new);
        if delta.as_slice() == Update::EMPTY_V1 {
            self.text(reply);
            return;
        }
        self.changed(delta.len());
        let state = content::text_state(self.awareness.doc());
        self.persist(delta, Some((reply, state)), None, by);
    }

    /// Writes the plain text search reads, once the commits it includes are done (search
    /// never shows text that is not durable).
    pub fn index_text(&mut self) {
        self.text_dirty = false;
        let text = content::plain_text(self.awareness.doc());
        self.after_commits(Effect::Index(text));
    }
}
