//! What an attached file is served as, decided from its bytes and never from what the
//! uploader claimed: its type (sniffed from the first bytes), whether a browser may show
//! it inline (raster images only: SVG and HTML can run script, so they are downloads),
//! and the download name (sanitised, then percent-encoded for `Content-Disposition`).
//! Also the links a copy of a document rewrites to its own attachments. Used by
//! `api::attachments`; no I/O here.

use std::collections::HashMap;

use crate::ids::{AttachmentId, DocId};

/// Bytes the type is sniffed from: enough for every signature the sniffer knows.
pub const SNIFF_BYTES: usize = 8 * 1024;
/// Longest file name kept, in characters.
const MAX_NAME_CHARS: usize = 200;
/// Served for whatever is not recognised, or is recognised as something a browser might
/// interpret (text, markup, script).
pub const OPAQUE: &str = "application/octet-stream";
/// The only types shown inline: raster images, which cannot carry script.
const INLINE_IMAGES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

/// The type to store and serve for a file starting with `head`.
pub fn sniff(head: &[u8]) -> &'static str {
    match infer::get(head) {
        Some(kind) if kind.matcher_type() == infer::MatcherType::Text => OPAQUE,
        Some(kind) => {
            let mime = kind.mime_type();
            let risky = ["html", "xml", "svg", "javascript"].iter().any(|word| mime.contains(word));
            if risky { OPAQUE } else { mime }
        }
        None => OPAQUE,
    }
}

/// Whether a file of this (sniffed) type is shown inline rather than downloaded.
pub fn inline(content_type: &str) -> bool {
    INLINE_IMAGES.contains(&content_type)
}

/// Unicode's format characters (general category Cf: bidi overrides and isolates,
/// zero-width joiners and spaces, the BOM, tags…), as of Unicode 15.
const FORMAT_CHARS: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// Whether a name keeps `c`: not a control character, and not an invisible format
/// character (a right-to-left override could show `evil\u{202E}gnp.exe` as `evilexe.png`).
fn shown(c: char) -> bool {
    !c.is_control() && !FORMAT_CHARS.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// The name to keep for an upload: its last path component, without control or format
/// characters, trimmed and shortened; `file` when nothing is left.
pub fn clean_name(raw: Option<&str>) -> String {
    let raw = raw.unwrap_or_default();
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let kept: String = last.chars().filter(|&c| shown(c)).take(MAX_NAME_CHARS).collect();
    let kept = kept.trim().trim_start_matches('.');
    if kept.is_empty() { "file".to_owned() } else { kept.to_owned() }
}

/// `Content-Disposition` for a file: `inline` or `attachment`, with the name as RFC 6266
/// asks (an ASCII `filename` fallback and the exact `filename*` in UTF-8).
pub fn disposition(name: &str, inline: bool) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "._- ()".contains(c) { c } else { '_' }).collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// `content` with every link to one of `from`'s attachments named in `ids` pointing at
/// the attachment `ids` maps it to on `to` (relative or absolute URLs alike: the path is
/// what is matched). Links to other attachments, or other documents', stay as they are.
pub fn relink(content: &str, from: &DocId, to: &DocId, ids: &HashMap<&str, &AttachmentId>) -> String {
    if ids.is_empty() {
        return content.to_owned();
    }
    let prefix = format!("/api/v1/documents/{from}/attachments/");
    let mut out = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(at) = rest.find(&prefix) {
        let after = &rest[at + prefix.len()..];
        let end = after.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(after.len());
        out.push_str(&rest[..at]);
        match ids.get(&after[..end]) {
            Some(new) => {
                out.push_str("/api/v1/documents/");
                out.push_str(to.as_str());
                out.push_str("/attachments/");
                out.push_str(new.as_str());
            }
            None => out.push_str(&rest[at..at + prefix.len() + end]),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn types_come_from_the_bytes_and_only_raster_images_are_inline() {
        assert_eq!(sniff(PNG), "image/png");
        assert!(inline(sniff(PNG)));
        assert_eq!(sniff(b"GIF89a\x01\0\x01\0"), "image/gif");
        assert_eq!(sniff(b"%PDF-1.7\n"), "application/pdf");
        assert!(!inline("application/pdf"));
        for risky in [
            &b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"[..],
            b"<?xml version=\"1.0\"?><svg/>",
            b"<!DOCTYPE html><html><script>alert(1)</script>",
            b"plain words",
        ] {
            assert_eq!(sniff(risky), OPAQUE, "{}", String::from_utf8_lossy(risky));
        }
    }

    #[test]
    fn names_lose_paths_and_control_characters_and_are_encoded() {
        assert_eq!(clean_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(clean_name(Some("C:\\Users\\me\\photo.png")), "photo.png");
        assert_eq!(clean_name(Some("a\r\nb\".png")), "ab\".png");
        assert_eq!(clean_name(Some("..")), "file");
        assert_eq!(clean_name(Some("invoice\u{202E}gnp.exe")), "invoicegnp.exe");
        assert_eq!(clean_name(Some("a\u{200B}b\u{2066}c\u{FEFF}.png")), "abc.png");
        assert_eq!(clean_name(Some("\u{200D}\u{E0041}")), "file");
        assert_eq!(clean_name(Some("نص.txt")), "نص.txt");
        assert_eq!(clean_name(None), "file");
        assert_eq!(clean_name(Some(&"é".repeat(500))).chars().count(), MAX_NAME_CHARS);
        assert_eq!(
            disposition("résumé \"final\".pdf", false),
            "attachment; filename=\"r_sum_ _final_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf"
        );
        assert!(disposition("a.png", true).starts_with("inline; "));
    }

    #[test]
    fn links_to_copied_attachments_point_at_the_copies_and_others_stay() {
        let (from, to) = (DocId::parse("aaaa").unwrap(), DocId::parse("bbbb").unwrap());
        let (one, two) = (AttachmentId::new("1111"), AttachmentId::new("2222"));
        let ids = HashMap::from([("0001", &one), ("0002", &two)]);
        let text = "![a](/api/v1/documents/aaaa/attachments/0001) \
                    [b](https://host/api/v1/documents/aaaa/attachments/0002?x=1)\n\
                    /api/v1/documents/aaaa/attachments/0003 /api/v1/documents/cccc/attachments/0001 \
                    /api/v1/documents/aaaa/attachments/0001x /api/v1/documents/aaaa/attachments/";
        assert_eq!(
            relink(text, &from, &to, &ids),
            "![a](/api/v1/documents/bbbb/attachments/1111) \
             [b](https://host/api/v1/documents/bbbb/attachments/2222?x=1)\n\
             /api/v1/documents/aaaa/attachments/0003 /api/v1/documents/cccc/attachments/0001 \
             /api/v1/documents/aaaa/attachments/0001x /api/v1/documents/aaaa/attachments/"
        );
        assert_eq!(relink(text, &from, &to, &HashMap::new()), text);
    }
}
