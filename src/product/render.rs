//! Markdown to safe HTML: comrak with the GitHub extensions (tables, task lists,
//! strikethrough, autolinks, footnotes, heading ids), math marked for the web app, HackMD's
//! `[TOC]`, boxes and spoilers, and class-based syntax highlighting,
//! then ammonia, so whatever a document holds (script tags, `javascript:` links, event
//! attributes, ids or classes of the page around it) comes out inert. Every render is
//! bounded in input, highlighted bytes, output and time ([`Limits`]); [`Renderer`] runs it
//! off the async runtime and [`RenderCache`] keeps results within a byte budget. Also the
//! standalone page an HTML export downloads.

mod cache;
mod pool;
mod spoiler;
mod toc;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use comrak::adapters::SyntaxHighlighterAdapter;
use comrak::options::Plugins;
use comrak::{Arena, Options};
use syntect::html::{ClassStyle, ClassedHTMLGenerator};
use syntect::parsing::SyntaxSet;
use syntect::util::LinesWithEndings;

use crate::store::search::push_escaped;

pub use cache::RenderCache;
pub use pool::Renderer;

/// Prefix of every `id` in rendered HTML, and of the in-page links (`#…`) pointing at
/// them, so a document cannot take the id of an element of the page showing it.
pub const ID_PREFIX: &str = "user-content-";

/// Prefix of the syntax-highlighting classes (`hl-keyword`, …): the one open-ended class
/// namespace rendered HTML may carry, and what the export's stylesheet selects.
pub const HIGHLIGHT_CLASS_PREFIX: &str = "hl-";

/// Class of the `<pre>` around a fenced code block (the theme's colours).
const PRE_CLASS: &str = "hl-code";

/// Source bytes of one fenced block that are highlighted; a larger block is plain text.
/// Highlighting multiplies a block's size by up to ~25 (a `<span class=…>` per token).
pub const HIGHLIGHT_BLOCK_BYTES: usize = 32 * 1024;

/// Source bytes highlighted in one render, all blocks together; later blocks are plain.
/// Highlighting runs at ~100–200 KB/s (syntect's pure-Rust regexes).
pub const HIGHLIGHT_TOTAL_BYTES: usize = 64 * 1024;

/// Syntax-tree nodes one render may build (~200 bytes each). Markdown can make many
/// nodes of few bytes: comrak pads each short table row to the header's width (up to
/// 500,000 cells per table), so 1 MB of tables built ~1.8 GB of tree.
pub const MAX_NODES: usize = 250_000;

/// Output bytes between two checks of the deadline while HTML is written.
const DEADLINE_CHECK_BYTES: usize = 64 * 1024;

/// What one render may cost.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest Markdown rendered, in bytes.
    pub max_input: usize,
    /// Largest HTML produced, in bytes (before and after sanitising).
    pub max_output: usize,
}

/// Why a render was refused or stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("the Markdown is {size} bytes; at most {limit} are rendered")]
    InputTooLarge { size: usize, limit: usize },
    #[error("the HTML would exceed {limit} bytes")]
    OutputTooLarge { limit: usize },
    #[error("the document has more than {limit} elements")]
    TooManyNodes { limit: usize },
    #[error("rendering ran out of time")]
    TimedOut,
    #[error("rendering failed: {0}")]
    Failed(String),
}

static SYNTAXES: LazyLock<SyntaxSet> = LazyLock::new(SyntaxSet::load_defaults_newlines);

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.add_tags(["input", "section", "details", "summary", "span"])
        // Every input is a disabled checkbox (what task lists render), whatever it says.
        .add_tag_attributes("input", ["checked", "class"])
        .set_tag_attribute_value("input", "type", "checkbox")
        .set_tag_attribute_value("input", "disabled", "")
        .add_tag_attributes("th", ["align"])
        .add_tag_attributes("td", ["align"])
        .add_tag_attributes("details", ["open"])
        .add_tag_attributes("ol", ["start"])
        .id_prefix(Some(ID_PREFIX))
        .attribute_filter(filter_attribute);
    for tag in ["h1", "h2", "h3", "h4", "h5", "h6", "li", "sup"] {
        b.add_tag_attributes(tag, ["id"]);
    }
    b.add_tag_attributes("a", ["id", "aria-label"]);
    // Math (`$…$`, `$$…$$`, ```` ```math ````) stays TeX text in an element marked with its
    // style; the web app typesets it.
    b.add_tag_attributes("span", ["data-math-style"]).add_tag_attributes("code", ["data-math-style"]);
    for tag in ["span", "pre", "code", "section", "sup", "a", "ul", "ol", "li", "div", "p"] {
        b.add_tag_attributes(tag, ["class"]);
    }
    let schemes: HashSet<&str> = ["http", "https", "mailto"].into_iter().collect();
    b.url_schemes(schemes);
    b
});

/// Classes survive only where the renderer itself puts them; in-page links follow the
/// ids they point at (ammonia prefixes an id unless it already starts with the prefix).
fn filter_attribute<'u>(element: &str, attribute: &str, value: &'u str) -> Option<Cow<'u, str>> {
    match attribute {
        "class" => {
            let kept: Vec<&str> = value.split_ascii_whitespace().filter(|c| class_allowed(element, c)).collect();
            (!kept.is_empty()).then(|| kept.join(" ").into())
        }
        "data-math-style" => matches!(value, "inline" | "display").then_some(value.into()),
        "href" => match value.strip_prefix('#') {
            Some(id) if !id.is_empty() && !id.starts_with(ID_PREFIX) => Some(format!("#{ID_PREFIX}{id}").into()),
            _ => Some(value.into()),
        },
        _ => Some(value.into()),
    }
}

/// The classes comrak (task lists, footnotes, heading anchors, code languages, boxes and
/// alerts, the table of contents) and the highlighter emit, each on the element it emits
/// it on.
fn class_allowed(element: &str, class: &str) -> bool {
    /// HackMD's `:::kind` boxes; another kind is a plain `<div>`.
    const BOXES: [&str; 4] = ["info", "success", "warning", "danger"];
    /// `markdown-alert` and its kinds' `markdown-alert-…`.
    const ALERTS: [&str; 6] = ["", "-note", "-tip", "-important", "-warning", "-caution"];
    match element {
        "span" => class.len() > HIGHLIGHT_CLASS_PREFIX.len() && class.starts_with(HIGHLIGHT_CLASS_PREFIX),
        "pre" => class == PRE_CLASS,
        "code" => class.len() > "language-".len() && class.starts_with("language-"),
        "section" => class == "footnotes",
        "sup" => class == "footnote-ref",
        "a" => class == "footnote-backref" || class == "anchor",
        "div" => BOXES.contains(&class) || class.strip_prefix("markdown-alert").is_some_and(|k| ALERTS.contains(&k)),
        "p" => class == "markdown-alert-title",
        "ul" => class == "contains-task-list" || class == "toc",
        "ol" => class == "contains-task-list",
        "li" => class == "task-list-item",
        "input" => class == "task-list-item-checkbox",
        _ => false,
    }
}

fn options() -> Options<'static> {
    let mut o = Options::default();
    o.extension.table = true;
    o.extension.tasklist = true;
    o.extension.strikethrough = true;
    o.extension.autolink = true;
    o.extension.footnotes = true;
    o.extension.math_dollars = true;
    // HackMD's own: ^sup^, ~sub~ (~~strike~~ stays), ==mark==, ++ins++, :::info/success/
    // warning/danger boxes, and YAML front matter, which is metadata and not shown.
    o.extension.superscript = true;
    o.extension.subscript = true;
    o.extension.highlight = true;
    o.extension.insert = true;
    o.extension.block_directive = true;
    o.extension.front_matter_delimiter = Some("---".into());
    // GitHub's `> [!NOTE]` alerts.
    o.extension.alerts = true;
    // Heading ids as slugs; the sanitiser prefixes them (and links to them) with ID_PREFIX.
    o.extension.header_id_prefix = Some(String::new());
    o.render.tasklist_classes = true;
    // Raw HTML passes comrak and is then cleaned by ammonia, so harmless HTML
    // (`<details>`, `<kbd>`) still renders.
    o.render.r#unsafe = true;
    o
}

/// Highlights fenced code with prefixed syntect classes, within a budget: a block over
/// [`HIGHLIGHT_BLOCK_BYTES`], past [`HIGHLIGHT_TOTAL_BYTES`] or past half the render's
/// time for the render, or in a language syntect does not know is plain escaped text.
struct Highlighter {
    left: AtomicUsize,
    until: Instant,
}

impl Highlighter {
    fn new(until: Instant) -> Self {
        Highlighter { left: AtomicUsize::new(HIGHLIGHT_TOTAL_BYTES), until }
    }

    fn highlight(&self, lang: Option<&str>, code: &str) -> Option<String> {
        if code.len() > HIGHLIGHT_BLOCK_BYTES || Instant::now() >= self.until {
            return None;
        }
        let token = lang.and_then(|l| l.split(',').next()).filter(|l| !l.is_empty());
        let syntax = token
            .and_then(|t| SYNTAXES.find_syntax_by_token(t))
            .or_else(|| SYNTAXES.find_syntax_by_first_line(code))?;
        self.left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(code.len())).ok()?;
        let style = ClassStyle::SpacedPrefixed { prefix: HIGHLIGHT_CLASS_PREFIX };
        let mut html = ClassedHTMLGenerator::new_with_class_style(syntax, &SYNTAXES, style);
        for line in LinesWithEndings::from(code) {
            html.parse_html_for_line_which_includes_newline(line).ok()?;
        }
        Some(html.finalize())
    }
}

impl SyntaxHighlighterAdapter for Highlighter {
    fn write_highlighted(&self, output: &mut dyn Write, lang: Option<&str>, code: &str) -> fmt::Result {
        match self.highlight(lang, code) {
            Some(html) => output.write_str(&html),
            None => comrak::html::escape(output, code),
        }
    }

    fn write_pre_tag(&self, output: &mut dyn Write, _: HashMap<&'static str, Cow<'_, str>>) -> fmt::Result {
        write!(output, "<pre class=\"{PRE_CLASS}\">")
    }

    fn write_code_tag(&self, output: &mut dyn Write, attributes: HashMap<&'static str, Cow<'_, str>>) -> fmt::Result {
        comrak::html::write_opening_tag(output, "code", attributes)
    }
}

/// Collects HTML up to a size, checking a deadline as it grows; records why it stopped.
struct Bounded {
    html: String,
    max: usize,
    deadline: Instant,
    next_check: usize,
    stopped: Option<RenderError>,
}

impl Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.html.len() + s.len() > self.max {
            self.stopped = Some(RenderError::OutputTooLarge { limit: self.max });
            return Err(fmt::Error);
        }
        self.html.push_str(s);
        if self.html.len() >= self.next_check {
            self.next_check = self.html.len() + DEADLINE_CHECK_BYTES;
            if Instant::now() >= self.deadline {
                self.stopped = Some(RenderError::TimedOut);
                return Err(fmt::Error);
            }
        }
        Ok(())
    }
}

/// Sanitised HTML for a Markdown document (a fragment, no page around it), within
/// `limits` and by `deadline`. Blocking: run it off the async runtime ([`Renderer`]).
pub fn to_html(markdown: &str, limits: &Limits, deadline: Instant) -> Result<String, RenderError> {
    if markdown.len() > limits.max_input {
        return Err(RenderError::InputTooLarge { size: markdown.len(), limit: limits.max_input });
    }
    let html = unsanitized(markdown, limits, deadline)?;
    if Instant::now() >= deadline {
        return Err(RenderError::TimedOut);
    }
    let clean = SANITIZER.clean(&html).to_string();
    if clean.len() > limits.max_output {
        return Err(RenderError::OutputTooLarge { limit: limits.max_output });
    }
    Ok(clean)
}

/// comrak's HTML; the syntax tree is freed before the sanitiser builds its own.
fn unsanitized(markdown: &str, limits: &Limits, deadline: Instant) -> Result<String, RenderError> {
    let now = Instant::now();
    let highlighter = Highlighter::new(now + deadline.saturating_duration_since(now) / 2);
    let options = options();
    let arena = Arena::new();
    let stop = || arena.len() > MAX_NODES || Instant::now() >= deadline;
    let root = comrak::try_parse_document(&arena, markdown, &options, &stop).map_err(|_| match arena.len() {
        n if n > MAX_NODES => RenderError::TooManyNodes { limit: MAX_NODES },
        _ => RenderError::TimedOut,
    })?;
    toc::insert(root);
    spoiler::insert(&arena, root);
    let mut plugins = Plugins::default();
    plugins.render.codefence_syntax_highlighter = Some(&highlighter);
    let mut out = Bounded { html: String::new(), max: limits.max_output, deadline, next_check: 0, stopped: None };
    match comrak::format_html_with_plugins(root, &options, &mut out, &plugins) {
        Ok(()) => Ok(out.html),
        // Only the writer fails a format.
        Err(fmt::Error) => Err(out.stopped.unwrap_or(RenderError::Failed("formatting failed".into()))),
    }
}

/// Page styles and the code highlighting theme, for exports.
static PAGE_CSS: LazyLock<String> = LazyLock::new(|| {
    let themes = syntect::highlighting::ThemeSet::load_defaults();
    let style = ClassStyle::SpacedPrefixed { prefix: HIGHLIGHT_CLASS_PREFIX };
    let code = themes
        .themes
        .get("InspiredGitHub")
        .and_then(|t| syntect::html::css_for_theme_with_class_style(t, style).ok())
        .unwrap_or_default();
    format!("{BASE_CSS}\n{code}")
});

const BASE_CSS: &str =
    "body{margin:0 auto;max-width:50rem;padding:2rem;font:16px/1.6 system-ui,sans-serif;color:#1f2328}
pre{padding:1rem;overflow:auto;background:#f6f8fa;border-radius:6px}code{font-family:ui-monospace,monospace}
table{border-collapse:collapse}th,td{border:1px solid #d0d7de;padding:.3rem .8rem}
blockquote{margin:0;padding:0 1rem;color:#59636e;border-left:.25rem solid #d0d7de}img{max-width:100%}
.contains-task-list,.toc,.toc ul{list-style:none;padding-left:1.2rem}
.info,.success,.warning,.danger,.markdown-alert{margin:0 0 1rem;padding:.5rem 1rem;border-left:.25rem solid #2f5bea;background:#f1f4fe}
.success,.markdown-alert-tip{border-color:#079455}.warning,.markdown-alert-warning,.markdown-alert-important{border-color:#b54708}
.danger,.markdown-alert-caution{border-color:#d92d20}.markdown-alert-title{font-weight:600}";

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_escaped(&mut out, c);
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
    use std::time::Duration;

    use super::*;

    const LIMITS: Limits = Limits { max_input: 2 * 1024 * 1024, max_output: 8 * 1024 * 1024 };

    fn render(markdown: &str) -> String {
        to_html(markdown, &LIMITS, Instant::now() + Duration::from_secs(30)).unwrap()
    }

    #[test]
    fn github_extensions_render() {
        let html = render(
            "| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] done\n- [ ] todo\n\n~~old~~ https://example.com\n\nNote[^1]\n\n[^1]: Footnote.\n",
        );
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("type=\"checkbox\""), "{html}");
        assert!(html.contains("<del>old</del>"), "{html}");
        assert!(html.contains("href=\"https://example.com\""), "{html}");
        assert!(html.contains("Footnote."), "{html}");
    }

    #[test]
    fn code_is_highlighted_with_prefixed_classes() {
        let html = render("```rust\nfn main() { let x = 1; }\n```\n");
        assert!(html.contains("<pre class=\"hl-code\"><code class=\"language-rust\">"), "{html}");
        assert!(html.contains("<span class=\"hl-"), "{html}");
        assert!(!html.contains("style="), "{html}");
        // The export's stylesheet selects the same classes.
        assert!(PAGE_CSS.contains(".hl-keyword"), "{}", *PAGE_CSS);
    }

    #[test]
    fn math_stays_tex_marked_with_its_style_and_prices_stay_text() {
        let html = render(
            "Euler: $e^{i\\pi} + 1 = 0$ and it costs $5 or $10.\n\n$$\\int_0^1 x\\,dx < 1$$\n\n\
             ```math\na^2 + b^2\n```\n\n<span data-math-style=\"evil\">x</span> <b data-math-style=\"inline\">y</b>\n",
        );
        assert!(html.contains("<span data-math-style=\"inline\">e^{i\\pi} + 1 = 0</span>"), "{html}");
        assert!(html.contains("costs $5 or $10."), "{html}");
        assert!(html.contains("<span data-math-style=\"display\">\\int_0^1 x\\,dx &lt; 1</span>"), "{html}");
        assert!(html.contains("<code class=\"language-math\" data-math-style=\"display\">a^2 + b^2"), "{html}");
        assert!(
            !html.contains("evil") && html.contains("<b>y</b>"),
            "only the two styles, only on span and code: {html}"
        );
    }

    #[test]
    fn hackmd_extras_render_and_front_matter_is_not_shown() {
        let html = render(
            "---\ntitle: Hidden\ntags: [a]\n---\n\nH~2~O, x^2^, ==marked==, ++added++, ~~gone~~\n\n\
             :::info\nHeads **up**\n:::\n\n:::evil fixed inset-0\nplain\n:::\n\n> [!WARNING]\n> Careful\n",
        );
        assert!(!html.contains("Hidden") && !html.contains("tags:"), "{html}");
        for want in ["H<sub>2</sub>O", "x<sup>2</sup>", "<mark>marked</mark>", "<ins>added</ins>", "<del>gone</del>"] {
            assert!(html.contains(want), "{want} missing in {html}");
        }
        assert!(html.contains("<div class=\"info\">\n<p>Heads <strong>up</strong></p>"), "{html}");
        assert!(html.contains("<div>\n<p>plain</p>") && !html.contains("evil") && !html.contains("inset"), "{html}");
        assert!(html.contains("<div class=\"markdown-alert markdown-alert-warning\">"), "{html}");
        assert!(html.contains("<p class=\"markdown-alert-title\">Warning</p>"), "{html}");
    }

    #[test]
    fn hostile_markdown_comes_out_inert() {
        let md = "<script>alert(1)</script>\n\n[x](javascript:alert(1)) <img src=x onerror=alert(1)>\n\n\
                  <a href=\"JaVaScRiPt:alert(1)\">y</a> <iframe src=\"https://evil\"></iframe>\n\n\
                  <input type=\"text\" onfocus=\"alert(1)\"> <div style=\"background:url(x)\">s</div>\n\n\
                  ```nosuchlanguage\n<script>alert(2)</script>\n```\n";
        let html = render(md).to_lowercase();
        for bad in ["<script", "javascript:", "onerror", "onfocus", "<iframe", "type=\"text\"", "style="] {
            assert!(!html.contains(bad), "{bad} survived in {html}");
        }
        assert!(html.contains("&lt;script&gt;alert(2)"), "unknown languages are escaped text: {html}");
    }

    /// Every id and every in-page link target in `html`.
    fn ids_and_targets(html: &str) -> (Vec<String>, Vec<String>) {
        let values = |attr: &str| -> Vec<String> {
            html.split(attr).skip(1).map(|rest| rest.split('"').next().unwrap_or_default().to_owned()).collect()
        };
        (values(" id=\""), values(" href=\"#"))
    }

    #[test]
    fn ids_are_prefixed_and_heading_and_footnote_links_still_land() {
        let html = render(
            "# Setup\n\nSee [setup](#setup) and [twice](#user-content-setup).[^n]\n\n\
             <a id=\"login-form\" href=\"#login-form\">raw</a>\n\n[^n]: A note.\n",
        );
        let (ids, targets) = ids_and_targets(&html);
        assert!(ids.len() >= 4, "heading, footnote, its reference, raw anchor: {html}");
        for id in &ids {
            assert!(id.starts_with(ID_PREFIX), "unprefixed id {id} in {html}");
        }
        for target in &targets {
            assert!(ids.contains(target), "link to #{target} lands nowhere in {html}");
        }
        assert!(targets.iter().filter(|t| *t == "user-content-setup").count() >= 3, "{html}");
        assert!(
            targets.contains(&"user-content-fn-n".to_owned()) && targets.contains(&"user-content-fnref-n".to_owned())
        );
        assert!(ids.contains(&"user-content-login-form".to_owned()), "{html}");
    }

    #[test]
    fn only_the_classes_the_renderer_emits_survive() {
        let html = render(
            "# Title\n\n- [x] done\n\nNote[^1]\n\n```rust\nfn main() {}\n```\n\n\
             <div class=\"fixed inset-0\">a</div> <p class=\"modal\">b</p> <span class=\"login hl-keyword\">c</span>\n\n\
             <code class=\"language-x admin\">d</code> <section class=\"footnotes evil\">e</section>\n\n\
             [^1]: Footnote.\n",
        );
        for gone in ["fixed", "inset-0", "modal", "login", "admin", "evil"] {
            assert!(!html.contains(gone), "class {gone} survived in {html}");
        }
        let classes: Vec<&str> = html
            .split(" class=\"")
            .skip(1)
            .flat_map(|rest| rest.split('"').next().unwrap_or_default().split(' '))
            .collect();
        let emitted = [
            "contains-task-list",
            "task-list-item",
            "task-list-item-checkbox",
            "footnote-ref",
            "footnotes",
            "footnote-backref",
            "anchor",
            PRE_CLASS,
        ];
        for class in &classes {
            let highlight = class.starts_with(HIGHLIGHT_CLASS_PREFIX) || class.starts_with("language-");
            assert!(highlight || emitted.contains(class), "unexpected class {class} in {html}");
        }
        for class in emitted {
            assert!(classes.contains(&class), "renderer class {class} was stripped: {html}");
        }
    }

    #[test]
    fn every_input_is_a_disabled_checkbox() {
        let html = render(
            "<input> <input type=\"text\" name=\"password\" value=\"x\"> <input type=\"checkbox\" checked>\n\n- [ ] todo\n",
        );
        let inputs: Vec<&str> = html.split("<input").skip(1).map(|r| r.split('>').next().unwrap()).collect();
        assert_eq!(inputs.len(), 4, "{html}");
        for input in inputs {
            assert!(input.contains("type=\"checkbox\"") && input.contains("disabled"), "<input{input}> in {html}");
            assert!(!input.contains("name=") && !input.contains("value="), "<input{input}>");
        }
    }

    #[test]
    fn a_huge_code_block_is_plain_escaped_text_and_fast() {
        let line = "fn f(x: &str) -> Vec<u8> { let y = x.len() * 2; vec![y as u8] } // \"s\"\n";
        let md = format!("```rust\n{}```\n", line.repeat(1024 * 1024 / line.len()));
        let started = Instant::now();
        let html = render(&md);
        let took = started.elapsed();
        assert!(!html.contains("<span"), "a block over {HIGHLIGHT_BLOCK_BYTES} bytes was highlighted");
        assert!(html.contains("&lt;u8&gt;"), "code is escaped");
        assert!(html.len() < md.len() * 2, "{} bytes of HTML for {} of Markdown", html.len(), md.len());
        assert!(took < Duration::from_secs(5), "took {took:?}");
    }

    #[test]
    fn highlighting_stops_at_its_total_budget() {
        let block = format!("```rust\n{}```\n\n", "let x = 1;\n".repeat(20 * 1024 / 11));
        let html = render(&block.repeat(20));
        let highlighted = html.split("<pre").filter(|b| b.contains("<span class=\"hl-")).count();
        assert_eq!(highlighted, HIGHLIGHT_TOTAL_BYTES / (20 * 1024 / 11 * 11), "{highlighted} blocks highlighted");
        // Past half its time a render highlights nothing more.
        assert!(Highlighter::new(Instant::now()).highlight(Some("rust"), "fn main() {}").is_none());
        assert!(
            Highlighter::new(Instant::now() + Duration::from_secs(5)).highlight(Some("rust"), "fn main() {}").is_some()
        );
    }

    #[test]
    fn renders_past_their_limits_stop_with_the_reason() {
        let limits = Limits { max_input: 4096, max_output: 64 * 1024 };
        let later = Instant::now() + Duration::from_secs(30);
        let big = "a".repeat(4097);
        assert_eq!(to_html(&big, &limits, later), Err(RenderError::InputTooLarge { size: 4097, limit: 4096 }));
        // Each one-cell row of a 100-column table is padded to 100 cells: ~1 kB of HTML per 3 bytes.
        let table = format!("|{}\n|{}\n{}", "a|".repeat(100), "-|".repeat(100), "|a\n".repeat(300));
        assert!(table.len() < limits.max_input);
        assert_eq!(to_html(&table, &limits, later), Err(RenderError::OutputTooLarge { limit: 64 * 1024 }));
        assert_eq!(to_html("# hi", &limits, Instant::now()), Err(RenderError::TimedOut));
        // Tables short of comrak's own cap per table, many of them: the tree is bounded.
        let table = format!("|{}\n|{}\n{}\n", "a|".repeat(100), "-|".repeat(100), "|a\n".repeat(4000));
        let limits = Limits { max_input: 1024 * 1024, max_output: 64 * 1024 * 1024 };
        assert_eq!(to_html(&table.repeat(10), &limits, later), Err(RenderError::TooManyNodes { limit: MAX_NODES }));
    }

    #[test]
    fn export_page_escapes_the_title() {
        let page = page("<b>x</b>", "<p>y</p>");
        assert!(page.contains("<title>&lt;b&gt;x&lt;/b&gt;</title>"));
        assert!(page.contains("markdown-body"));
    }
}
