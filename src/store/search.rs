//! Free-text search, as both databases are asked it: the query text each backend's full-text
//! parser gets from what a person typed (words only, no operator syntax), and the
//! snippet each answers turned into safe HTML.

/// Where the database's snippet function marks a match; control characters, so they
/// never collide with the HTML the snippet becomes.
pub const SNIPPET_START: char = '\u{1}';
pub const SNIPPET_STOP: char = '\u{2}';

use crate::html::push_escaped;

/// A snippet as HTML: the document's text escaped, then the database's match markers
/// turned into `<mark>` and `</mark>`, always balanced (a marker character inside the
/// document itself can at worst highlight text, never open an element).
pub fn snippet_html(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 16);
    let mut open = false;
    for c in raw.chars() {
        match c {
            SNIPPET_START if !open => {
                out.push_str("<mark>");
                open = true;
            }
            SNIPPET_STOP if open => {
                out.push_str("</mark>");
                open = false;
            }
            SNIPPET_START | SNIPPET_STOP => {}
            c => push_escaped(&mut out, c),
        }
    }
    if open {
        out.push_str("</mark>");
    }
    out
}

/// The words of a free-text query: letters and digits only (no operator syntax reaches
/// either database's parser), at most 32.
fn search_words(terms: &str) -> Vec<&str> {
    terms.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).take(32).collect()
}

/// The FTS5 query for free text: each word quoted, all required, the last as a prefix.
pub fn fts5_query(terms: &str) -> Option<String> {
    let words = search_words(terms);
    let (last, rest) = words.split_last()?;
    let mut q: Vec<String> = rest.iter().map(|w| format!("\"{w}\"")).collect();
    q.push(format!("\"{last}\"*"));
    Some(q.join(" "))
}

/// The Postgres `to_tsquery` text for free text: all words required, the last as a prefix.
pub fn pg_tsquery(terms: &str) -> Option<String> {
    let words = search_words(terms);
    let (last, rest) = words.split_last()?;
    let mut q: Vec<String> = rest.iter().map(|w| w.to_lowercase()).collect();
    q.push(format!("{}:*", last.to_lowercase()));
    Some(q.join(" & "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts5_query_quotes_words_and_drops_syntax() {
        assert_eq!(fts5_query("rust async").unwrap(), "\"rust\" \"async\"*");
        assert_eq!(fts5_query("a\" OR b:c*").unwrap(), "\"a\" \"OR\" \"b\" \"c\"*");
        assert_eq!(fts5_query("  ;; "), None);
        assert_eq!(pg_tsquery("Rust & async:*").unwrap(), "rust & async:*");
    }

    #[test]
    fn snippets_escape_text_then_mark_matches() {
        assert_eq!(
            snippet_html("<img src=x onerror=alert(1)> \u{1}zeppelin\u{2} & 'co\""),
            "&lt;img src=x onerror=alert(1)&gt; <mark>zeppelin</mark> &amp; &#39;co&quot;"
        );
        // Stray markers from the text itself stay balanced.
        assert_eq!(snippet_html("\u{2}a\u{1}b\u{1}c"), "a<mark>bc</mark>");
    }
}
