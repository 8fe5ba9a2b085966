//! `versions`: what version history costs, without a server. Builds a Markdown document of
//! `--doc-bytes` the way editing does (a Yjs document fragmented by `--edits` small edits),
//! saves it as the server saves a version (`NewVersion`: the whole Yjs state and the
//! Markdown, deflated), then makes `--changes` more edits and diffs the two texts as
//! `GET …/versions/{id}/diff` does (the unified diff and the JSON hunks), `--runs` times.

use std::time::Instant;

use clap::Args;
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, Options, ReadTxn, StateVector, Text, Transact};

use crate::report::Report;

#[derive(Args, Debug)]
pub struct VersionsArgs {
    /// Size of the document, in bytes of Markdown.
    #[arg(long, default_value_t = 1_000_000)]
    pub doc_bytes: usize,
    /// Small edits made while writing it (they fragment its Yjs state as typing does).
    #[arg(long, default_value_t = 5_000)]
    pub edits: usize,
    /// Edits between the two versions compared.
    #[arg(long, default_value_t = 200)]
    pub changes: usize,
    /// Diffs timed.
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
    /// Write the report as JSON here too.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

/// A small deterministic generator: the same document every run.
pub(crate) struct Rng(pub u64);

impl Rng {
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

pub(crate) fn paragraph(rng: &mut Rng) -> String {
    const WORDS: [&str; 12] =
        ["the", "room", "keeps", "every", "edit", "durable", "before", "anyone", "sees", "it", "notes", "team"];
    let n = 8 + rng.below(30);
    let words: Vec<&str> = (0..n).map(|_| WORDS[rng.below(WORDS.len())]).collect();
    format!("{}\n", words.join(" "))
}

/// Edits the text: an insert of a short phrase or a deletion of a few characters, at a
/// random position (ASCII text: byte and UTF-16 offsets agree).
fn edit(doc: &Doc, rng: &mut Rng) {
    let text = doc.get_or_insert_text("content");
    let mut txn = doc.transact_mut();
    let len = text.len(&txn);
    let at = rng.below(len as usize) as u32;
    if rng.below(3) == 0 && len > at + 8 {
        text.remove_range(&mut txn, at, 1 + rng.below(6) as u32);
    } else {
        text.insert(&mut txn, at, "edited ");
    }
}

pub async fn run(args: VersionsArgs) -> anyhow::Result<Report> {
    anyhow::ensure!((1_000..=64_000_000).contains(&args.doc_bytes), "--doc-bytes in 1000..=64000000");
    anyhow::ensure!(args.edits <= 1_000_000 && args.changes <= 1_000_000, "at most 1000000 edits");
    anyhow::ensure!((1..=1000).contains(&args.runs), "--runs in 1..=1000");
    let mut rng = Rng(42);
    let doc = Doc::with_options(Options { offset_kind: yrs::OffsetKind::Utf16, ..Options::default() });
    let mut body = String::from("# Notes\n\n");
    while body.len() < args.doc_bytes {
        body.push_str(&paragraph(&mut rng));
    }
    doc.get_or_insert_text("content").insert(&mut doc.transact_mut(), 0, &body);
    for _ in 0..args.edits {
        edit(&doc, &mut rng);
    }
    let (old_text, old_state) = snapshot(&doc);
    let started = Instant::now();
    let version = tandem::store::versions::NewVersion::new(
        &tandem::ids::DocId::parse("bench").unwrap(),
        tandem::store::versions::VersionKind::Auto,
        None,
        None,
        &old_state,
        &old_text,
    );
    let save_ms = started.elapsed().as_secs_f64() * 1000.0;
    for _ in 0..args.changes {
        edit(&doc, &mut rng);
    }
    let (new_text, _) = snapshot(&doc);
    let mut unified_us = Vec::with_capacity(args.runs);
    let mut hunks_us = Vec::with_capacity(args.runs);
    let (mut diff_bytes, mut hunk_count) = (0, 0);
    for _ in 0..args.runs {
        let t = Instant::now();
        diff_bytes = tandem::product::diff::unified(&old_text, &new_text, "a", "b").len();
        unified_us.push(t.elapsed().as_micros() as u32);
        let t = Instant::now();
        hunk_count = tandem::product::diff::hunks(&old_text, &new_text).len();
        hunks_us.push(t.elapsed().as_micros() as u32);
    }
    // The stored parts read back as they were.
    let restored = tandem::store::versions::inflate(&version.state)?;
    let check = Doc::new();
    check.transact_mut().apply_update(yrs::Update::decode_v1(&restored)?)?;
    anyhow::ensure!(check.get_or_insert_text("content").get_string(&check.transact()) == old_text, "state round trip");

    let mut r = Report::new("versions", args.json.clone());
    r.add("markdown bytes", old_text.len() as u64);
    r.add("yjs state bytes", old_state.len() as u64);
    r.add("stored: state deflated bytes", version.state.len() as u64);
    r.add("stored: markdown deflated bytes", version.content.len() as u64);
    r.add("stored: one version, bytes", (version.state.len() + version.content.len()) as u64);
    r.add("deflating both ms", (save_ms * 10.0).round() / 10.0);
    r.add("edits between the two", args.changes as u64);
    r.add("unified diff bytes", diff_bytes as u64);
    r.add("hunks", hunk_count as u64);
    r.add_latency("unified diff", unified_us);
    r.add_latency("json hunks", hunks_us);
    Ok(r)
}

fn snapshot(doc: &Doc) -> (String, Vec<u8>) {
    let text = doc.get_or_insert_text("content");
    let txn = doc.transact();
    (text.get_string(&txn), txn.encode_state_as_update_v1(&StateVector::default()))
}
