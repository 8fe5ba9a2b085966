//! `[TOC]`, HackMD's table of contents: a paragraph holding only `[TOC]` (any case)
//! becomes a nested list of links to the document's headings, with the ids comrak gives
//! them when it writes them (the sanitiser prefixes both alike).

use comrak::Anchorizer;
use comrak::nodes::{AstNode, NodeValue};

use super::html_block;
use crate::html::escape;

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
        marker.data_mut().value = html_block(html.clone());
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
