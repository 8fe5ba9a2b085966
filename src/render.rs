//! Markdown to safe HTML: comrak with the GitHub extensions (tables, task lists,
//! strikethrough, autolinks, footnotes) and class-based syntax highlighting, then ammonia,
//! so whatever a document holds (script tags, `javascript:` links, event attributes)
//! comes out inert. Also the standalone page an HTML export downloads.

use std::collections::HashSet;
use std::sync::LazyLock;

use comrak::options::Plugins;
use comrak::plugins::syntect::{SyntectAdapter, SyntectAdapterBuilder};
use comrak::{Options, markdown_to_html_with_plugins};

static HIGHLIGHTER: LazyLock<SyntectAdapter> = LazyLock::new(|| SyntectAdapterBuilder::new().css().build());

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.add_tags(["input", "section", "details", "summary", "span"])
        .add_tag_attributes("input", ["type", "checked", "disabled"])
        .add_tag_attributes("th", ["align"])
        .add_tag_attributes("td", ["align"])
        .add_tag_attributes("li", ["id"])
        .add_tag_attributes("a", ["id"])
        .add_tag_attributes("sup", ["id"])
        .add_tag_attributes("section", ["class"])
        .add_tag_attributes("span", ["class"])
        .add_tag_attributes("code", ["class"])
        .add_tag_attributes("pre", ["class"])
        .add_tag_attributes("details", ["open"])
        .add_tag_attributes("ol", ["start"])
        .attribute_filter(|element, attribute, value| match (element, attribute) {
            // Only the checkbox kind of input survives.
            ("input", "type") if value != "checkbox" => None,
            _ => Some(value.into()),
        });
    let schemes: HashSet<&str> = ["http", "https", "mailto"].into_iter().collect();
    b.url_schemes(schemes);
    b
});

fn options() -> Options<'static> {
    let mut o = Options::default();
    o.extension.table = true;
    o.extension.tasklist = true;
    o.extension.strikethrough = true;
    o.extension.autolink = true;
    o.extension.footnotes = true;
    // Raw HTML passes comrak and is then cleaned by ammonia, so harmless HTML
    // (`<details>`, `<kbd>`) still renders.
    o.render.r#unsafe = true;
    o
}

/// Sanitised HTML for a Markdown document (a fragment, no page around it).
pub fn to_html(markdown: &str) -> String {
    let mut plugins = Plugins::default();
    plugins.render.codefence_syntax_highlighter = Some(&*HIGHLIGHTER);
    let html = markdown_to_html_with_plugins(markdown, &options(), &plugins);
    SANITIZER.clean(&html).to_string()
}

/// Page styles and the code highlighting theme, for exports.
static PAGE_CSS: LazyLock<String> = LazyLock::new(|| {
    let themes = syntect::highlighting::ThemeSet::load_defaults();
    let code = themes
        .themes
        .get("InspiredGitHub")
        .and_then(|t| syntect::html::css_for_theme_with_class_style(t, syntect::html::ClassStyle::Spaced).ok())
        .unwrap_or_default();
    format!("{BASE_CSS}\n{code}")
});

const BASE_CSS: &str =
    "body{margin:0 auto;max-width:50rem;padding:2rem;font:16px/1.6 system-ui,sans-serif;color:#1f2328}
pre{padding:1rem;overflow:auto;background:#f6f8fa;border-radius:6px}code{font-family:ui-monospace,monospace}
table{border-collapse:collapse}th,td{border:1px solid #d0d7de;padding:.3rem .8rem}
blockquote{margin:0;padding:0 1rem;color:#59636e;border-left:.25rem solid #d0d7de}img{max-width:100%}";

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A standalone HTML page for `title` and already-sanitised `body`.
pub fn page(title: &str, body: &str) -> String {
    let title = escape(title);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title}</title>\n\
         <style>\n{}\n</style>\n</head>\n<body>\n<article class=\"markdown-body\">\n{body}</article>\n</body>\n</html>\n",
        *PAGE_CSS
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_extensions_render() {
        let html = to_html(
            "| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] done\n- [ ] todo\n\n~~old~~ https://example.com\n\nNote[^1]\n\n[^1]: Footnote.\n",
        );
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("type=\"checkbox\""), "{html}");
        assert!(html.contains("<del>old</del>"), "{html}");
        assert!(html.contains("href=\"https://example.com\""), "{html}");
        assert!(html.contains("Footnote."), "{html}");
    }

    #[test]
    fn code_is_highlighted_with_classes() {
        let html = to_html("```rust\nfn main() { let x = 1; }\n```\n");
        assert!(html.contains("<span class="), "{html}");
        assert!(!html.contains("style="), "{html}");
    }

    #[test]
    fn hostile_markdown_comes_out_inert() {
        let md = "<script>alert(1)</script>\n\n[x](javascript:alert(1)) <img src=x onerror=alert(1)>\n\n\
                  <a href=\"JaVaScRiPt:alert(1)\">y</a> <iframe src=\"https://evil\"></iframe>\n\n\
                  <input type=\"text\" onfocus=\"alert(1)\"> <div style=\"background:url(x)\">s</div>";
        let html = to_html(md).to_lowercase();
        for bad in ["<script", "javascript:", "onerror", "onfocus", "<iframe", "type=\"text\"", "style="] {
            assert!(!html.contains(bad), "{bad} survived in {html}");
        }
    }

    #[test]
    fn export_page_escapes_the_title() {
        let page = page("<b>x</b>", "<p>y</p>");
        assert!(page.contains("<title>&lt;b&gt;x&lt;/b&gt;</title>"));
        assert!(page.contains(".markdown-body") || page.contains("markdown-body"));
    }
}
