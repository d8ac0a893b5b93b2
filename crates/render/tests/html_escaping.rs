//! The HTML report's raw bytes: hostile log values cannot open elements, add handlers or
//! close the data block, and the data the page reads is exactly the investigation.

mod html_fixtures;

use backtrail_render::html::render;
use html_fixtures::{RLO, as_dom_text, has_handler, hostile, realistic, scripts, tags};
use serde_json::Value;

/// Elements the server writes; everything else is drawn by the page's script.
const SERVER_TAGS: &[&str] = &[
    "html", "head", "meta", "title", "style", "body", "header", "div", "h1", "p", "code",
    "noscript", "main", "script",
];

/// The JSON in `<script id="data">`, parsed back.
fn data_block(html: &str) -> Value {
    let s = scripts(html);
    let (_, body) = s
        .iter()
        .find(|(open, _)| *open == r#"<script type="application/json" id="data">"#)
        .expect("a data block");
    serde_json::from_str(body).expect("the data block is JSON")
}

#[test]
fn hostile_values_stay_inside_the_escaped_json_block() {
    let (inv, evidence) = hostile();
    let html = render(&inv, &evidence);

    // Exactly our two scripts: the JSON data and our code; nothing closed them early.
    let s = scripts(&html);
    assert_eq!(
        s.len(),
        2,
        "script elements: {:?}",
        s.iter().map(|x| x.0).collect::<Vec<_>>()
    );
    assert_eq!(s[0].0, r#"<script type="application/json" id="data">"#);
    assert_eq!(s[1].0, "<script>");
    assert_eq!(html.matches("</script").count(), 2);
    assert_eq!(html.to_ascii_lowercase().matches("<script").count(), 2);
    let data = s[0].1;
    for c in ['<', '>', '&', '\u{2028}', '\u{2029}', RLO] {
        assert!(!data.contains(c), "data block holds {c:?} unescaped");
    }
    assert!(data.contains(r"\u003c/script\u003e\u003cscript\u003ewindow.__pwned=2"));

    // Anywhere in the file: no payload as markup, no bidi override, no handler, no URL.
    for bad in [
        "<script>window",
        "<img",
        "<iframe",
        "<svg",
        "<b>",
        "<!--<script",
    ] {
        assert!(!html.contains(bad), "{bad} in the HTML");
    }
    assert!(!html.contains(RLO) && !html.contains('\u{2028}'));
    for (name, tag) in tags(&html) {
        assert!(
            SERVER_TAGS.contains(&name.as_str()),
            "unexpected element {tag}"
        );
        assert!(!has_handler(tag), "event handler in {tag}");
        assert!(
            !tag.to_ascii_lowercase().contains("javascript:"),
            "URL in {tag}"
        );
    }

    // Server-side text: escaped, with the override shown as an escape.
    let subject =
        as_dom_text(&backtrail_render::text(html_fixtures::SUBJECT)).replace('\'', "&#39;");
    assert!(html.contains(&format!(
        "<title>backtrail: investigation of {subject}</title>"
    )));
    assert!(html.contains(&format!("<h1>Investigation of <code>{subject}</code></h1>")));
    assert!(subject.contains(r"\u{202e}gnp.exe"));

    // The CSP allows only our script, by hash, and nothing from the network.
    let csp = tags(&html)
        .into_iter()
        .find(|(n, t)| n == "meta" && t.contains("Content-Security-Policy"))
        .expect("a CSP meta")
        .1;
    let policy = csp
        .split_once("content=\"")
        .and_then(|(_, p)| p.split_once('"'))
        .expect("a policy")
        .0;
    let directives: Vec<&str> = policy.split("; ").collect();
    let hash = directives[1]
        .strip_prefix("script-src 'sha256-")
        .and_then(|h| h.strip_suffix('\''))
        .expect("script-src by hash only");
    assert_eq!(hash.len(), 44, "a base64 SHA-256");
    assert_eq!(
        [&directives[..1], &directives[2..]].concat(),
        [
            "default-src 'none'",
            "style-src 'unsafe-inline'",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
            "require-trusted-types-for 'script'",
            "trusted-types 'none'",
        ]
    );

    // What the page reads is the hostile investigation, byte for byte.
    let expected = serde_json::json!({ "investigation": inv, "evidence": evidence });
    assert_eq!(data_block(&html), expected);
}

#[test]
fn the_100_kb_value_and_non_json_evidence_are_carried_whole() {
    let (inv, evidence) = hostile();
    let html = render(&inv, &evidence);
    let data = data_block(&html);
    let msg = data["investigation"]["sessions"][0]["activity"]["rows"][0]["sample_error_message"]
        .as_str()
        .expect("error message");
    assert_eq!(msg, html_fixtures::huge());
    assert!(
        evidence
            .values()
            .any(|e| serde_json::from_str::<Value>(e).is_err())
    );
}

#[test]
fn realistic_report_is_self_contained_and_small() {
    let (inv, evidence) = realistic();
    let html = render(&inv, &evidence);
    let kb = html.len() / 1024;
    eprintln!("realistic report: {} bytes ({kb} KiB)", html.len());
    assert!(kb < 400, "{kb} KiB");
    for (name, tag) in tags(&html) {
        let t = tag.to_ascii_lowercase();
        assert!(
            !t.contains(" src=") && !t.contains(" href=") && name != "link",
            "external reference in {tag}"
        );
    }
    assert!(no_urls_outside_data(&html));
    let expected = serde_json::json!({ "investigation": inv, "evidence": evidence });
    assert_eq!(data_block(&html), expected);
}

/// URLs may appear in the logs (data), never in the page's own markup, style or script
/// (but for the SVG namespace, a name that is never fetched).
fn no_urls_outside_data(html: &str) -> bool {
    let rest = html
        .replace(scripts(html)[0].1, "")
        .replace("http://www.w3.org/2000/svg", "");
    !rest.contains("http://") && !rest.contains("https://")
}
