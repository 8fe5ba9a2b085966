//! `[TOC]`, HackMD's table of contents: a paragraph holding only `[TOC]` (any case)
//! becomes a nested list of links to the document's headings, with the ids comrak gives
//! them when it writes them (the sanitiser prefixes both alike).

use comrak::Anchorizer;
use comrak::nodes::{AstNode, NodeHtmlBlock, NodeValue};

use super::escape;

/// Markers replaced in one document; later ones stay text (each is a copy of the list).
const MAX_MARKERS: usize = 4;
/// Headings listed; a document with more lists its first ones.
const MAX_ENTRIES: usize = 500;

/// Replaces the `[TOC]` paragraphs under `root` with the list of its headings.
pub(super) fn insert<'a>(root: &'a AstNode<'a>) {
    let markers: Vec<_> = root.descendants().filter(|n| is_marker(n)).take(MAX_MARKERS).collect();
    if markers.is_empty() {
        return;
    }
    let html = list(root);
    for marker in markers {
        marker.data_mut().value = NodeValue::HtmlBlock(NodeHtmlBlock { block_type: 6, literal: html.clone() });
        while let Some(child) = marker.first_child() {
            child.detach();
        }
    }
}

/// A top-level paragraph whose text is `[TOC]`.
fn is_marker<'a>(node: &'a AstNode<'a>) -> bool {
    if !matches!(node.data().value, NodeValue::Paragraph) || node.parent().is_some_and(|p| p.parent().is_some()) {
        return false;
    }
    let mut text = String::new();
    for child in node.children() {
        match &child.data().value {
            NodeValue::Text(t) if text.len() + t.len() <= 5 => text.push_str(t),
            _ => return false,
        }
    }
    text.eq_ignore_ascii_case("[toc]")
}

/// `<ul class="toc">`, nested by heading level, of links to every heading's id (the ids
/// taken in document order from one anchorizer, as comrak's writer takes them).
fn list<'a>(root: &'a AstNode<'a>) -> String {
    let mut anchors = Anchorizer::new();
    let mut html = String::from("<ul class=\"toc\">");
    // Lists open, whether the last item of the innermost is open, the first heading's level.
    let (mut depth, mut open_item, mut base) = (1usize, false, None::<u8>);
    let headings = root.descendants().filter_map(|n| match n.data().value {
        NodeValue::Heading(h) => Some((n, h.level)),
        _ => None,
    });
    for (node, level) in headings.take(MAX_ENTRIES) {
        let text = node.collect_text();
        let id = anchors.anchorize(&text);
        let want = usize::from(level.saturating_sub(*base.get_or_insert(level))) + 1;
        while depth < want {
            html.push_str(if open_item { "<ul>" } else { "<li><ul>" });
            depth += 1;
            open_item = false;
        }
        while depth > want {
            // Every level below holds an open item: the one just written.
            html.push_str("</li></ul>");
            depth -= 1;
            open_item = true;
        }
        if open_item {
            html.push_str("</li>");
        }
        html.push_str("<li><a href=\"#");
        html.push_str(&escape(&id));
        html.push_str("\">");
        html.push_str(&escape(&text));
        html.push_str("</a>");
        open_item = true;
    }
    if open_item {
        html.push_str("</li>");
    }
    for _ in 1..depth {
        html.push_str("</ul></li>");
    }
    html.push_str("</ul>");
    html
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::{Limits, to_html};

    fn render(markdown: &str) -> String {
        let limits = Limits { max_input: 1 << 20, max_output: 8 << 20 };
        to_html(markdown, &limits, Instant::now() + Duration::from_secs(30)).unwrap()
    }

    /// The `href` targets of the table's links and the ids of the headings, in order.
    fn targets_and_ids(html: &str) -> (Vec<&str>, Vec<&str>) {
        let toc = html.split("<ul class=\"toc\">").nth(1).unwrap_or_default().split("</ul>\n").next().unwrap();
        let targets = toc.split("href=\"#").skip(1).filter_map(|r| r.split('"').next()).collect();
        let ids = html.split("<h").skip(1).filter_map(|r| r.split(" id=\"").nth(1)?.split('"').next()).collect();
        (targets, ids)
    }

    #[test]
    fn toc_lists_every_heading_nested_and_links_land_on_their_ids() {
        let html = render(
            "# Guide\n\n[TOC]\n\n## Setup & *run*\n\n### Linux\n\n### macOS\n\n## Setup & *run*\n\n# Appendix\n\n\
             ### Deep `code`\n\n## <b>Raw</b>\n",
        );
        let (targets, ids) = targets_and_ids(&html);
        assert_eq!(targets, ids, "{html}");
        assert_eq!(targets.len(), 8, "{html}");
        assert!(targets.iter().all(|t| t.starts_with("user-content-")), "{html}");
        assert_eq!(targets[4], "user-content-setup--run-1", "a repeated heading gets comrak's suffix: {html}");
        assert!(!html.contains("[TOC]"), "{html}");
        let toc = html.split("<ul class=\"toc\">").nth(1).unwrap();
        let toc = &toc[..toc.find("</ul>\n").unwrap()];
        assert!(toc.contains(">Setup &amp; run</a>") && toc.contains(">Raw</a>"), "text only, escaped: {toc}");
        // Nesting balances: as many lists and items open as close.
        assert_eq!(toc.matches("<ul>").count(), toc.matches("</ul>").count(), "{html}");
        assert_eq!(toc.matches("<li>").count(), toc.matches("</li>").count(), "{html}");
    }

    #[test]
    fn only_a_paragraph_of_toc_alone_is_a_marker_and_markers_are_bounded() {
        let html = render("# A\n\nSee [TOC] here.\n\n> [TOC]\n\n`[TOC]`\n");
        assert!(!html.contains("class=\"toc\""), "{html}");
        let many = format!("# A\n\n{}", "[toc]\n\n".repeat(10));
        let html = render(&many);
        assert_eq!(html.matches("class=\"toc\"").count(), 4, "{html}");
        assert_eq!(html.matches("[toc]").count(), 6, "{html}");
    }
}
