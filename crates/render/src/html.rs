//! The investigation as one self-contained HTML file, to open offline or attach to a ticket.
//!
//! The page carries the investigation and the sampled evidence as JSON in a
//! `<script type="application/json">` block and draws itself with the embedded script
//! (assets/report.js), which only ever creates elements and text nodes: log values are never
//! parsed as markup. The JSON is escaped so that nothing in it can close its `<script>`
//! element, the few server-side strings are HTML-escaped, and a Content-Security-Policy
//! allows no script but ours (by its SHA-256) and no network at all, so even markup that got
//! through could not run or call out.

use crate::text;
use backtrail_analysis::investigate::Investigation;
use serde::Serialize;
use std::collections::BTreeMap;

const SCRIPT: &str = include_str!("../assets/report.js");
const STYLE: &str = include_str!("../assets/report.css");

/// What the page's script reads from `<script id="data">`.
#[derive(Serialize)]
struct Data<'a> {
    investigation: &'a Investigation,
    evidence: &'a BTreeMap<String, String>,
}

/// The investigation as one self-contained HTML file: no external scripts, styles, fonts or
/// images, nothing fetched. `evidence` maps event id to the raw event JSON for the events
/// the page can show (hop events and sample events); other ids say how to get them.
pub fn render(inv: &Investigation, evidence: &BTreeMap<String, String>) -> String {
    let data = script_json(&Data {
        investigation: inv,
        evidence,
    });
    let hash = base64(&sha256(SCRIPT.as_bytes()));
    let subject = escape(&shown(&inv.subject));
    let kind = escape(&shown(&inv.who.subject_kind));
    // The investigation's own window, else the one taken from the subject (a finding).
    let (start, end) = match (&inv.window_start, &inv.window_end) {
        (None, None) => (&inv.who.window_start, &inv.who.window_end),
        (s, e) => (s, e),
    };
    let mut window = match (start, end) {
        (None, None) => String::new(),
        (s, e) => format!(
            " · window {} to {}",
            escape(&s.as_deref().map_or_else(|| "…".into(), shown)),
            escape(&e.as_deref().map_or_else(|| "…".into(), shown)),
        ),
    };
    if let Some(ip) = &inv.who.ip_hint {
        window.push_str(&format!(" · address {}", escape(&shown(ip))));
    }
    let version = env!("CARGO_PKG_VERSION");
    let mut out = String::with_capacity(data.len() + SCRIPT.len() + STYLE.len() + 2048);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(&format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         script-src 'sha256-{hash}'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; \
         form-action 'none'; require-trusted-types-for 'script'; trusted-types 'none'\">\n"
    ));
    out.push_str(
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n",
    );
    out.push_str(&format!(
        "<title>backtrail: investigation of {subject}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n"
    ));
    out.push_str(&format!(
        "<header class=\"top\">\n<div>\n<h1>Investigation of <code>{subject}</code></h1>\n\
         <p class=\"meta\">subject: {kind}{window} · backtrail {version}</p>\n</div>\n\
         <div class=\"controls\" id=\"controls\"></div>\n</header>\n\
         <noscript><p>This report draws itself with JavaScript, which is off. Its data is in \
         the <code>script id=\"data\"</code> block of this file; <code>backtrail investigate \
         --format json</code> prints the same.</p></noscript>\n\
         <main id=\"app\"></main>\n"
    ));
    out.push_str("<script type=\"application/json\" id=\"data\">");
    out.push_str(&data);
    out.push_str("</script>\n<script>");
    out.push_str(SCRIPT);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

/// A log value as the page's script shows it: [`text`], and the line and paragraph
/// separators as escapes too.
fn shown(s: &str) -> String {
    text(s)
        .replace('\u{2028}', "\\u{2028}")
        .replace('\u{2029}', "\\u{2029}")
}

/// `s` for HTML text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// JSON that can sit inside `<script>`: `<`, `>` and `&` (so no `</script>` or `<!--`),
/// the line separators JavaScript once treated as line ends, and bidirectional controls are
/// written as `\uXXXX` escapes. They occur only inside JSON strings, where the escape
/// means the same character.
fn script_json<T: Serialize>(v: &T) -> String {
    // Serializing a derived struct of strings, numbers and string-keyed maps cannot fail.
    let s = serde_json::to_string(v).expect("the investigation serializes to JSON");
    let mut out = String::with_capacity(s.len() + s.len() / 32);
    for c in s.chars() {
        match c {
            '<'
            | '>'
            | '&'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            _ => out.push(c),
        }
    }
    out
}

/// SHA-256, for the script's hash in the Content-Security-Policy.
fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

/// Standard base64 with padding, as CSP hash sources are written.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn sha256_matches_the_standard_vectors() {
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // Two blocks: the padding spills over.
        assert_eq!(
            hex(&sha256(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        assert_eq!(hex(&sha256(&[b'a'; 1000])).len(), 64);
    }

    #[test]
    fn base64_pads_like_rfc4648() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn escapes_for_html_and_for_script_json() {
        assert_eq!(
            escape(r#"<a href="x" onclick='y'>&amp;</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;"
        );
        let j = script_json(&"</script><!--\u{2028}\u{202e}&");
        assert_eq!(j, r#""\u003c/script\u003e\u003c!--\u2028\u202e\u0026""#);
        let back: String = serde_json::from_str(&j).unwrap();
        assert_eq!(back, "</script><!--\u{2028}\u{202e}&");
    }

    /// The script is allowed by its hash, so it must sit in the page byte for byte and
    /// must not end its own element; it builds the DOM without HTML parsing sinks.
    #[test]
    fn assets_cannot_break_out_and_use_no_markup_sinks() {
        for a in [SCRIPT, STYLE] {
            let l = a.to_ascii_lowercase();
            assert!(!l.contains("</script") && !l.contains("</style") && !l.contains("<!--"));
        }
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "Function(",
            "setAttribute('on",
            "srcdoc",
        ] {
            assert!(!SCRIPT.contains(sink), "report.js uses {sink}");
        }
    }
}
