//! The renderer's tests: what each extension writes, what the sanitiser keeps, and the
//! bounds.

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
    assert!(!html.contains("evil") && html.contains("<b>y</b>"), "only the two styles, only on span and code: {html}");
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
    assert!(targets.contains(&"user-content-fn-n".to_owned()) && targets.contains(&"user-content-fnref-n".to_owned()));
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

// [TOC]

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

// :::spoiler

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
