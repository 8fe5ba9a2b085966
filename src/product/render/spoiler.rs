//! HackMD's `:::spoiler Title` … `:::` box: a `<details>` whose `<summary>` is the title
//! ("Spoiler" without one), closed until opened.

use comrak::Arena;
use comrak::nodes::{AstNode, NodeValue};

use super::html_block;
use crate::html::escape;

/// Replaces each `:::spoiler` block directive under `root` with its content between the
/// opening and the closing of a `<details>`.
pub(super) fn insert<'a>(arena: &'a Arena<'a>, root: &'a AstNode<'a>) {
    let spoilers: Vec<_> = root.descendants().filter_map(|n| title(n).map(|t| (n, t))).collect();
    for (node, title) in spoilers {
        let open = format!("<details><summary>{}</summary>\n", escape(&title));
        node.insert_before(arena.alloc(html_block(open).into()));
        while let Some(child) = node.first_child() {
            child.detach();
            node.insert_before(child);
        }
        node.insert_before(arena.alloc(html_block("</details>\n".into()).into()));
        node.detach();
    }
}

/// The title of a `:::spoiler` directive.
fn title<'a>(node: &'a AstNode<'a>) -> Option<String> {
    let NodeValue::BlockDirective(d) = &node.data().value else { return None };
    let rest = d.info.strip_prefix("spoiler")?;
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let title = rest.trim();
    Some(if title.is_empty() { "Spoiler".to_owned() } else { title.to_owned() })
}
