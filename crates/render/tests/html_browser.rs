//! The HTML report in headless Chromium: hostile log values show as text and run nothing,
//! and a real investigation draws its chain, timelines and tables, sorts on a header click,
//! filters, and opens evidence.
//!
//! Needs `chromium` (scripts/install-browser.sh installs it). Without it the tests say so
//! and pass, except under CI (env `CI` set), where they fail. Set `BACKTRAIL_KEEP_HTML` to a
//! directory to keep the reports and screenshots there.

mod html_fixtures;

use backtrail_render::html::render;
use backtrail_testkit::{chromium, headless_chromium};
use html_fixtures::{RLO, as_dom_text, has_handler, hostile, realistic, scripts, tags};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Runs headless Chromium on `url` with `extra` flags and a fresh profile; its stdout.
fn run(chrome: &Path, url: &str, extra: &[String]) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = headless_chromium(chrome, profile.path())
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match child.try_wait().expect("wait for chromium") {
            Some(status) => {
                assert!(status.success(), "chromium failed: {status}");
                break;
            }
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium took more than 90 s on {url}");
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    reader.join().expect("read chromium's output")
}

fn url(path: &Path, fragment: &str) -> String {
    format!("file://{}{fragment}", path.display())
}

/// Writes the report; copies it to `BACKTRAIL_KEEP_HTML` too when set.
fn write(dir: &Path, name: &str, html: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, html).expect("write report");
    keep(&p);
    p
}

fn keep(p: &Path) {
    if let Some(d) = std::env::var_os("BACKTRAIL_KEEP_HTML") {
        let d = PathBuf::from(d);
        std::fs::create_dir_all(&d).expect("keep dir");
        std::fs::copy(p, d.join(p.file_name().expect("file name"))).expect("keep file");
    }
}

/// The dumped DOM without the data block, whose JSON text holds the payloads verbatim.
fn without_data(dom: &str) -> String {
    let s = scripts(dom);
    let (_, data) = s
        .iter()
        .find(|(open, _)| open.contains(r#"id="data""#))
        .expect("the data block survives");
    dom.replace(data, "")
}

fn body_attr<'a>(dom: &'a str, name: &str) -> Option<&'a str> {
    let body = tags(dom).into_iter().find(|(n, _)| n == "body")?.1;
    let key = format!("{name}=\"");
    let from = body.find(&key)? + key.len();
    Some(&body[from..from + body[from..].find('"')?])
}

/// Writes the page, opens it with its self-test and returns its path and final DOM, once
/// the script ran to the end under the CSP (else nothing would be drawn).
fn draw(chrome: &Path, dir: &Path, name: &str, html: &str) -> (PathBuf, String) {
    let path = write(dir, name, html);
    let dom = run(chrome, &url(&path, "#selftest"), &["--dump-dom".into()]);
    assert_eq!(
        body_attr(&dom, "data-rendered"),
        Some("ok"),
        "page did not draw"
    );
    (path, dom)
}

#[test]
fn hostile_values_render_as_text_and_run_nothing() {
    let Some(chrome) = chromium() else { return };
    let t0 = Instant::now();
    let (inv, evidence) = hostile();
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, dom) = draw(
        &chrome,
        dir.path(),
        "hostile.html",
        &render(&inv, &evidence),
    );
    let selftest = body_attr(&dom, "data-selftest").expect("self-test ran");
    assert!(selftest.contains(";viewer=json;absent=ok;"), "{selftest}");

    // No payload ran: the title is ours, no element `pwned`, no foreign element or handler.
    let title = dom
        .split("<title>")
        .nth(1)
        .and_then(|t| t.split("</title>").next());
    assert!(
        title.is_some_and(|t| t.starts_with("backtrail: investigation of")),
        "{title:?}"
    );
    assert!(!dom.contains(r#"id="pwned""#));
    let page = without_data(&dom);
    for (name, tag) in tags(&page) {
        assert!(
            !["img", "iframe", "object", "embed", "link", "a"].contains(&name.as_str())
                || name == "a" && tag.starts_with("<a href=\"#s-"),
            "foreign element {tag}"
        );
        assert!(!has_handler(tag), "event handler in {tag}");
        assert!(!tag.contains("javascript:"), "URL in {tag}");
    }
    assert!(
        !page.contains("<b>not bold"),
        "entities were decoded into markup"
    );

    // The payloads are on the page as text, with the override shown as an escape.
    for shown in [
        html_fixtures::USER_NAME,
        html_fixtures::NOTE,
        html_fixtures::ENTITIES,
        &html_fixtures::huge(),
        html_fixtures::PAYLOADS[0],
    ] {
        let text = as_dom_text(&backtrail_render::text(shown));
        assert!(
            page.contains(&text),
            "not shown as text: {}",
            &text[..text.len().min(120)]
        );
    }
    assert!(page.contains("&amp;lt;b&amp;gt;not bold&amp;lt;/b&amp;gt; &amp;amp; &amp;quot;"));
    assert!(page.contains(r"\u{202e}"));
    assert!(
        !dom.contains(RLO),
        "a raw right-to-left override reached the DOM"
    );
    // The evidence viewer showed hostile event JSON as text, its override as a JSON escape.
    assert!(page.contains(r#"<pre class="ev-json">{"#));
    assert!(page.contains(r"\u202e&lt;script&gt;window.__pwned=1"));
    eprintln!("hostile browser test: {:.1}s", t0.elapsed().as_secs_f64());
}

fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

fn screenshot(chrome: &Path, page: &Path, png: &Path, dark: bool) -> Vec<u8> {
    let mut flags = vec![
        format!("--screenshot={}", png.display()),
        "--window-size=1280,2000".to_string(),
    ];
    if dark {
        flags.push("--force-dark-mode".into());
    }
    run(chrome, &url(page, ""), &flags);
    keep(png);
    let bytes = std::fs::read(png).expect("screenshot written");
    assert_eq!(png_size(&bytes), (1280, 2000));
    // A blank or error page of this size compresses to a few kB.
    assert!(
        bytes.len() > 60_000,
        "screenshot looks empty: {} bytes",
        bytes.len()
    );
    bytes
}

#[test]
fn realistic_report_draws_sorts_filters_and_shows_evidence() {
    let Some(chrome) = chromium() else { return };
    let t0 = Instant::now();
    let (inv, evidence) = realistic();
    let dir = tempfile::tempdir().expect("temp dir");
    let (path, dom) = draw(
        &chrome,
        dir.path(),
        "realistic.html",
        &render(&inv, &evidence),
    );

    // Sorting by a click on the "calls" header: biggest first, then smallest first, the
    // same rows both times; the filter keeps the matching rows; an event id opens its JSON,
    // an id without evidence says how to get it; the theme button switches the colours.
    let selftest = body_attr(&dom, "data-selftest").expect("self-test ran");
    let part = |k: &str| {
        selftest
            .split(';')
            .find_map(|p| p.strip_prefix(k))
            .unwrap_or_else(|| panic!("{k} in {selftest}"))
    };
    let nums =
        |s: &str| -> Vec<u64> { s.split(',').map(|n| n.parse().expect("a count")).collect() };
    let desc = nums(part("desc="));
    let asc = nums(part("asc="));
    assert!(
        desc.len() > 2 && desc.windows(2).all(|w| w[0] >= w[1]),
        "{selftest}"
    );
    assert!(asc.windows(2).all(|w| w[0] <= w[1]), "{selftest}");
    let mut sorted = desc.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, asc);
    assert_ne!(
        desc, asc,
        "the fixture's counts differ, so the order must change"
    );
    let (shown, total) = part("filter=").split_once('/').expect("n/m");
    let (shown, total): (usize, usize) = (shown.parse().unwrap(), total.parse().unwrap());
    assert!(shown >= 1 && shown < total, "{selftest}");
    assert_eq!(part("viewer="), "json");
    assert_eq!(part("absent="), "ok");
    assert_eq!(part("theme="), "switched");

    // The chain: origin and three issued sessions, three certain hops with their events.
    let page = without_data(&dom);
    let count = |s: &str| page.matches(s).count();
    assert_eq!(count(r#"<svg class="chain""#), 1);
    assert_eq!(count(r#"<g class="node origin">"#), 1);
    assert_eq!(count(r#"<g class="node">"#), 2);
    assert_eq!(count(r#"<g class="node subject">"#), 1);
    assert_eq!(count(r#"<g class="edge certain">"#), 3);
    assert_eq!(count(r#"class="evlink""#), 3);
    let chain = &inv.who.sessions[0];
    for hop in &chain.chain {
        assert!(page.contains(hop.event_id.as_deref().expect("hop event")));
    }
    assert!(page.contains(&chain.origin.identifier));

    // A timeline per session and for all together; every API of every session in a table.
    assert_eq!(count(r#"<svg class="timeline""#), inv.sessions.len() + 1);
    assert!(count(r#"<g class="bin">"#) >= inv.sessions[0].body.activity.timeline.len().min(2));
    let activity_rows = inv
        .sessions
        .iter()
        .map(|s| s.body.activity.rows.len())
        .sum::<usize>()
        + inv.combined.activity.rows.len();
    let tables = tags(&page).iter().filter(|(n, _)| n == "table").count();
    assert!(tables >= 3 * (inv.sessions.len() + 1), "{tables} tables");
    for s in &inv.sessions {
        for r in &s.body.activity.rows {
            assert!(page.contains(&format!(
                "<div class=\"api\"><span class=\"val\">{}</span></div>",
                r.event_name
            )));
        }
    }
    assert_eq!(count(r#"<div class="api">"#), activity_rows);
    assert!(count(r#"<button class="ev" type="button">"#) > 50);

    // Screenshots, light and dark: full-size PNGs that differ.
    let light = screenshot(
        &chrome,
        &path,
        &dir.path().join("realistic-light.png"),
        false,
    );
    let dark = screenshot(&chrome, &path, &dir.path().join("realistic-dark.png"), true);
    assert_ne!(light, dark, "dark mode changed nothing");
    eprintln!(
        "realistic browser test: {:.1}s, report {} bytes",
        t0.elapsed().as_secs_f64(),
        std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
    );
}
