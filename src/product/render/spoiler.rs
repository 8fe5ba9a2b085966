//! HackMD's `:::spoiler Title` … `:::` box: a `<details>` whose `<summary>` is the title
//! ("Spoiler" without one), closed until opened.

use comrak::Arena;
use comrak::nodes::{AstNode, NodeHtmlBlock, NodeValue};

use super::escape;

/// Replaces each `:::spoiler` block directive under `root` with its content between the
/// opening and the closing of a `<details>`.
pub(super) fn insert<'a>(arena: &'a Arena<'a>, root: &'a AstNode<'a>) {
    let spoilers: Vec<_> = root.descendants().filter_map(|n| title(n).map(|t| (n, t))).collect();
    for (node, title) in spoilers {
        let open = format!("<details><summary>{}</summary>\n", escape(&title));
        node.insert_before(arena.alloc(html(open).into()));
        while let Some(child) = node.first_child() {
            child.detach();
            node.insert_before(child);
        }
        node.insert_before(arena.alloc(html("</details>\n".into()).into()));
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

fn html(literal: String) -> NodeValue {
    NodeValue::HtmlBlock(NodeHtmlBlock { block_type: 6, literal })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::{Limits, to_html};

    fn render(markdown: &str) -> String {
        let limits = Limits { max_input: 1 << 20, max_output: 8 << 20 };
        to_html(markdown, &limits, Instant::now() + Duration::from_secs(30)).unwrap()
    }

    #[test]
    fn a_spoiler_is_a_closed_details_with_its_title_and_content() {
        let html = render(
            ":::spoiler Show the <b>answer</b>\n**42**, and:\n\n::::spoiler\ninner\n::::\n:::\n\n:::spoilers\nnot one\n:::\n",
        );
        assert!(
            html.starts_with(
                "<details><summary>Show the &lt;b&gt;answer&lt;/b&gt;</summary>\n<p><strong>42</strong>, and:</p>"
            ),
            "{html}"
        );
        assert!(html.contains("<details><summary>Spoiler</summary>\n<p>inner</p>\n</details>\n</details>"), "{html}");
        assert!(!html.contains(" open") && html.contains("<div>\n<p>not one</p>"), "{html}");
    }
}
