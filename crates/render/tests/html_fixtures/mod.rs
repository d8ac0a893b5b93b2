//! Investigations for the HTML report tests: a real one and the same made hostile.
//!
//! `cross_account_chain.json` is `backtrail investigate --finding … --format json` of the
//! demo trail's cross-account-role-chain incident (a 3-hop AssumeRole chain across four
//! accounts, 30 APIs in the subject's session), with the raw events the CLI would sample
//! (`backtrail show ID` of the hop, origin and sample event ids).

use backtrail_analysis::investigate::Investigation;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

const REALISTIC: &str = include_str!("cross_account_chain.json");

/// Strings that would run script, open elements or mislead if the page treated log values
/// as markup, URLs or plain display text. Each one that could run tries to retitle the page
/// `PWNED` or add an element with id `pwned`.
pub const PAYLOADS: &[&str] = &[
    "<script>window.__pwned=1;document.title='PWNED'</script>",
    "</script><script>window.__pwned=2;document.title='PWNED'</script>",
    "<img src=x onerror=\"window.__pwned=3;document.body.appendChild(document.createElement('b')).id='pwned'\">",
    "javascript:document.title='PWNED'",
    "&lt;b&gt;not bold&lt;/b&gt; &amp; &quot;",
    "\"><svg onload=\"document.title='PWNED'\"></svg>",
    "'-document.title='PWNED'-'",
    "<!--<script>document.title='PWNED'</script>-->\u{2028}\u{2029}",
    "${document.title='PWNED'}{{constructor.constructor('document.title=1')()}}",
    "\u{0}\u{1b}[2J\u{7}\u{85}",
    "<iframe srcdoc=\"<script>parent.document.title='PWNED'</script>\"></iframe>",
];

/// The right-to-left override that would show `exe.txt` as `txt.exe`.
pub const RLO: char = '\u{202E}';

/// The realistic investigation and its evidence.
pub fn realistic() -> (Investigation, BTreeMap<String, String>) {
    let v: Value = serde_json::from_str(REALISTIC).expect("fixture is JSON");
    split(v)
}

fn split(mut v: Value) -> (Investigation, BTreeMap<String, String>) {
    let evidence = serde_json::from_value(v["evidence"].take()).expect("evidence map");
    let inv = serde_json::from_value(v["investigation"].take()).expect("an Investigation");
    (inv, evidence)
}

/// Fields that must stay valid for the Investigation to deserialize (enums, timestamps)
/// or for the timeline to have points.
const KEEP: &[&str] = &[
    "confidence",
    "kind",
    "class",
    "read_only_basis",
    "first_seen",
    "last_seen",
    "minute",
];

fn fnv(s: &str) -> usize {
    s.bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
        .try_into()
        .unwrap_or(0)
}

/// `s` with a right-to-left override and one of the payloads appended; the same `s`
/// always gets the same payload, so event ids still match their evidence.
pub fn hostile_str(s: &str) -> String {
    format!("{s}{RLO}{}", PAYLOADS[fnv(s) % PAYLOADS.len()])
}

fn poison(v: &mut Value, keys_too: bool) {
    match v {
        Value::String(s) => *s = hostile_str(s),
        Value::Array(a) => a.iter_mut().for_each(|x| poison(x, keys_too)),
        Value::Object(m) => {
            let old = std::mem::take(m);
            let mut new = Map::new();
            for (k, mut x) in old {
                if !KEEP.contains(&k.as_str()) {
                    let inner = keys_too
                        || matches!(
                            k.as_str(),
                            "error_codes" | "sample_request_parameters" | "filters"
                        );
                    poison(&mut x, inner);
                }
                new.insert(if keys_too { hostile_str(&k) } else { k }, x);
            }
            *m = new;
        }
        _ => {}
    }
}

/// The 100 kB value.
pub fn huge() -> String {
    format!("{}{RLO}{}", "A".repeat(100_000), PAYLOADS[0])
}

/// Explicitly placed values the tests look for in the page.
pub const USER_NAME: &str = PAYLOADS[2];
pub const NOTE: &str = PAYLOADS[1];
pub const ENTITIES: &str = PAYLOADS[4];
pub const SUBJECT: &str = "</title><script>document.title='PWNED'</script>\u{202E}gnp.exe";

/// The realistic investigation with every string the analysis copies from the logs (ARNs,
/// names, user agents, parameters, error messages, ids, notes, …) carrying a payload and a
/// bidi override, plus a 100 kB value and evidence that is not JSON.
pub fn hostile() -> (Investigation, BTreeMap<String, String>) {
    let mut v: Value = serde_json::from_str(REALISTIC).expect("fixture is JSON");
    let mut inv = v["investigation"].take();
    poison(&mut inv, false);
    inv["subject"] = SUBJECT.into();
    inv["who"]["subject"] = SUBJECT.into();
    inv["who"]["notes"] = serde_json::json!([NOTE]);
    inv["who"]["sessions"][0]["chain"][0]["caller"]["user_name"] = USER_NAME.into();
    inv["combined"]["origins"]["flags"][0]["detail"] = ENTITIES.into();
    inv["sessions"][0]["activity"]["rows"][0]["sample_error_message"] = huge().into();

    let mut evidence = Map::new();
    let raw = v["evidence"].take();
    for (id, text) in raw.as_object().expect("evidence object") {
        let mut ev: Value =
            serde_json::from_str(text.as_str().expect("evidence text")).expect("event JSON");
        poison(&mut ev, false);
        ev[PAYLOADS[2]] = format!("{RLO}{}", PAYLOADS[0]).into();
        evidence.insert(hostile_str(id), ev.to_string().into());
    }
    // Evidence that is not JSON at all: shown as text all the same.
    let first_hop = inv["who"]["sessions"][0]["chain"][1]["event_id"]
        .as_str()
        .expect("hop event id")
        .to_string();
    evidence.insert(first_hop, format!("{}{RLO}{}", PAYLOADS[1], huge()).into());
    let mut out = Map::new();
    out.insert("investigation".into(), inv);
    out.insert("evidence".into(), Value::Object(evidence));
    split(Value::Object(out))
}

/// The tags of `html` as (lowercase name, whole tag), skipping the raw text of `<script>`
/// and `<style>` elements. A `<` that starts no tag (escaped text shows `&lt;`) is skipped.
pub fn tags(html: &str) -> Vec<(String, &str)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = html[i..].find('<') {
        let s = i + p;
        if !html[s + 1..].starts_with(|c: char| c.is_ascii_alphabetic()) {
            i = s + 1;
            continue;
        }
        let end = html[s..].find('>').map_or(html.len(), |e| s + e + 1);
        let tag = &html[s..end];
        let name: String = tag[1..]
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        i = end;
        if name == "script" || name == "style" {
            let close = format!("</{name}>");
            i = html[i..].find(&close).map_or(html.len(), |e| i + e);
        }
        out.push((name, tag));
    }
    out
}

/// The bodies of the `<script>` elements, with their opening tags.
pub fn scripts(html: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = html[i..].find("<script") {
        let s = i + p;
        let open_end = html[s..].find('>').map_or(html.len(), |e| s + e + 1);
        let close = html[open_end..]
            .find("</script>")
            .map_or(html.len(), |e| open_end + e);
        out.push((&html[s..open_end], &html[open_end..close]));
        i = close;
    }
    out
}

/// Whether a tag carries an inline event handler (`onerror=`, `onload=`, …).
pub fn has_handler(tag: &str) -> bool {
    let t = tag.to_ascii_lowercase();
    t.match_indices("on").any(|(i, _)| {
        let before = t[..i].chars().last();
        let name: String = t[i..]
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect();
        matches!(before, Some(c) if c.is_whitespace() || c == '/')
            && name.len() > 2
            && t[i + name.len()..].trim_start().starts_with('=')
    })
}

/// Text as the browser serializes a text node: `&`, `<`, `>` escaped.
pub fn as_dom_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\u{a0}', "&nbsp;")
}
