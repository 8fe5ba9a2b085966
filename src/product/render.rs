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

use crate::html::escape;

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

/// A block of the renderer's own HTML, written as it is (and sanitised with the rest).
fn html_block(literal: String) -> comrak::nodes::NodeValue {
    comrak::nodes::NodeValue::HtmlBlock(comrak::nodes::NodeHtmlBlock { block_type: 6, literal })
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
mod tests;
