//! Differences between two texts, for version history: a unified line diff (what `diff
//! -u` prints) and hunks of lines with the changed words marked, for a UI. Lines are
//! compared with Myers' algorithm under a deadline (past it, the diff is coarser but
//! still correct); words only inside the hunks.

use std::time::{Duration, Instant};

use serde::Serialize;
use similar::{Algorithm, ChangeTag, TextDiff};
use utoipa::ToSchema;

/// Longest the line comparison may search for the smallest diff.
const DEADLINE: Duration = Duration::from_millis(300);
/// Unchanged lines shown around each change.
const CONTEXT: usize = 3;

fn lines<'a>(old: &'a str, new: &'a str) -> TextDiff<'a, 'a, 'a, str> {
    TextDiff::configure().algorithm(Algorithm::Myers).timeout(DEADLINE).diff_lines(old, new)
}

/// The unified diff from `old` to `new`, with these names in its header.
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    lines(old, new).unified_diff().context_radius(CONTEXT).header(old_name, new_name).to_string()
}

#[derive(Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct Hunk {
    /// First line of the hunk in the old text, and how many lines it covers (1-based).
    pub old_start: usize,
    pub old_lines: usize,
    pub new_start: usize,
    pub new_lines: usize,
    pub lines: Vec<Line>,
}

#[derive(Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct Line {
    /// `equal`, `delete` (only in the old text) or `insert` (only in the new).
    pub op: &'static str,
    /// The line, without its line break.
    pub text: String,
    /// The line in pieces, `changed` where the words differ from the line it replaces
    /// (one piece, unchanged, for lines with no counterpart).
    pub words: Vec<Word>,
}

#[derive(Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct Word {
    pub changed: bool,
    pub text: String,
}

/// The hunks from `old` to `new`. Word-level marks stop once the deadline is spent (lines
/// after it come whole).
pub fn hunks(old: &str, new: &str) -> Vec<Hunk> {
    let diff = lines(old, new);
    let deadline = Instant::now() + DEADLINE;
    diff.grouped_ops(CONTEXT)
        .iter()
        .map(|group| {
            let (first, last) = (&group[0], &group[group.len() - 1]);
            let old_range = first.old_range().start..last.old_range().end;
            let new_range = first.new_range().start..last.new_range().end;
            let mut out = Vec::new();
            for op in group {
                for change in diff.iter_inline_changes_deadline(op, Some(deadline)) {
                    let kind = match change.tag() {
                        ChangeTag::Equal => "equal",
                        ChangeTag::Delete => "delete",
                        ChangeTag::Insert => "insert",
                    };
                    let words: Vec<Word> = change
                        .iter_strings_lossy()
                        .map(|(changed, text)| Word { changed, text: text.trim_end_matches(['\n', '\r']).to_owned() })
                        .filter(|w| !w.text.is_empty())
                        .collect();
                    let text = words.iter().map(|w| w.text.as_str()).collect();
                    out.push(Line { op: kind, text, words });
                }
            }
            Hunk {
                old_start: old_range.start + 1,
                old_lines: old_range.len(),
                new_start: new_range.start + 1,
                new_lines: new_range.len(),
                lines: out,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unified_diff_is_what_diff_u_prints() {
        let old = "# Plan\n\nstep one\nstep two\nstep three\n";
        let new = "# Plan\n\nstep one\nstep 2\nstep three\nstep four\n";
        assert_eq!(
            unified(old, new, "a", "b"),
            "--- a\n+++ b\n@@ -1,5 +1,6 @@\n # Plan\n \n step one\n-step two\n+step 2\n step three\n+step four\n"
        );
        assert_eq!(unified(old, old, "a", "b"), "");
    }

    #[test]
    fn hunks_mark_the_changed_words_of_a_changed_line() {
        let hunks = hunks("a\nthe quick brown fox\nz\n", "a\nthe quick red fox\nz\n");
        assert_eq!(hunks.len(), 1);
        let h = &hunks[0];
        assert_eq!((h.old_start, h.old_lines, h.new_start, h.new_lines), (1, 3, 1, 3));
        let ops: Vec<&str> = h.lines.iter().map(|l| l.op).collect();
        assert_eq!(ops, ["equal", "delete", "insert", "equal"]);
        let changed: Vec<&str> = h.lines[2].words.iter().filter(|w| w.changed).map(|w| w.text.as_str()).collect();
        assert_eq!(changed, ["red"]);
        assert_eq!(h.lines[2].text, "the quick red fox");
    }
}
