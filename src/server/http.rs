//! The ring in a browser: a node answers an HTTP request line on its own
//! port with a read-only page that redraws the ring every second, and a
//! box that draws a key's lookup path on it.
//!
//! A text client's line `GET <key>` has two words; an HTTP request line has
//! three, the last `HTTP/1.0` or `HTTP/1.1`, so the two cannot be confused
//! ([`request_line`]). The connection closes after each answer.
//!
//! - `GET /` is the page (`/?key=<key>` opens it with that key's path);
//! - `GET /ring.svg` is the ring as [`super::svg`] draws it, from a RING
//!   walk and this node's fingers; `GET /ring.svg?key=<key>` draws the
//!   lookup path of `<key>` from this node as well;
//! - any other path is `404 Not Found`, any other method
//!   `405 Method Not Allowed`, a request whose headers do not end within
//!   limits `400 Bad Request`; a node with a password (`--password-file`)
//!   answers `403 Forbidden`, as the page has no way to send `AUTH`.

use std::io::{self, BufRead, Write};

use super::svg::{self, Point};
use crate::id::{Id, NodeRef};
use crate::node::Node;
use crate::text::{self, Line};

/// The most header lines read before the request is refused.
const MAX_HEADERS: usize = 64;

/// The longest header line, in bytes.
const MAX_HEADER: usize = 8 * 1024;

/// The most nodes the page draws.
const MAX_NODES: usize = 1024;

/// The method and target of `line` if it is an HTTP request line:
/// `METHOD SP TARGET SP HTTP/1.x`.
pub fn request_line(line: &[u8]) -> Option<(String, String)> {
    let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
    let mut words = line.split(' ');
    let (method, target, version) = (words.next()?, words.next()?, words.next()?);
    if words.next().is_some() || !matches!(version, "HTTP/1.0" | "HTTP/1.1") {
        return None;
    }
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    Some((method.to_string(), target.to_string()))
}

/// Answers one HTTP request whose request line has been read: reads the
/// headers, then writes the response.
///
/// # Errors
/// The connection's I/O errors.
pub fn serve<R: BufRead, W: Write>(
    node: &Node,
    locked: bool,
    method: &str,
    target: &str,
    reader: &mut R,
    writer: &mut W,
) -> io::Result<()> {
    let mut headers_ended = false;
    for _ in 0..MAX_HEADERS {
        match text::read_line(reader, MAX_HEADER)? {
            Line::Complete(line) if line.is_empty() || line == b"\r" => {
                headers_ended = true;
                break;
            }
            Line::Complete(_) => {}
            Line::TooLong | Line::Eof => break,
        }
    }
    let (status, kind, body) = if !headers_ended {
        plain(400, "the request's headers did not end within limits")
    } else if method != "GET" {
        plain(405, "the page is read-only: GET only")
    } else if locked {
        plain(403, "this node has a password; the page is off")
    } else {
        match target.split_once('?').unwrap_or((target, "")) {
            ("/", query) => (
                200,
                "text/html; charset=utf-8",
                page(node, key_of(query).as_deref()).into_bytes(),
            ),
            ("/ring.svg", query) => match ring_svg(node, key_of(query).as_deref()) {
                Ok(svg) => (200, "image/svg+xml", svg.into_bytes()),
                Err(why) => plain(503, &why),
            },
            _ => plain(404, "no such page: try /"),
        }
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    write!(
        writer,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    writer.write_all(&body)?;
    writer.flush()
}

/// The page with the ring drawn in it, so that it shows at once, to a
/// browser without scripts or a screenshot too; the script only redraws
/// it every second.
fn page(node: &Node, key: Option<&str>) -> String {
    let drawn = ring_svg(node, key).unwrap_or_else(|why| {
        let why = why
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        format!("<p>the ring could not be drawn: {why}</p>")
    });
    PAGE.replacen(
        "<div id=\"ring\"></div>",
        &format!("<div id=\"ring\">{drawn}</div>"),
        1,
    )
    .replacen(
        "loading...",
        "as the page was served; redrawn every second",
        1,
    )
}

/// A plain-text answer: the status and its one line of explanation.
fn plain(status: u16, text: &str) -> (u16, &'static str, Vec<u8>) {
    (
        status,
        "text/plain; charset=utf-8",
        format!("{text}\n").into_bytes(),
    )
}

/// The `key` parameter of a query string, percent-decoded.
fn key_of(query: &str) -> Option<String> {
    let value = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("key="))?;
    let mut bytes = Vec::new();
    let mut raw = value.bytes();
    while let Some(b) = raw.next() {
        match b {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = [raw.next()?, raw.next()?];
                let hex = std::str::from_utf8(&hex).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
            }
            b => bytes.push(b),
        }
    }
    let key = String::from_utf8(bytes).ok()?;
    (!key.is_empty() && key.len() <= crate::store::MAX_KEY).then_some(key)
}

/// The fraction of the circle of `id`.
fn fraction(id: Id) -> f64 {
    svg::position(&id.to_string(), id.bits()).unwrap_or(0.0)
}

/// The ring as this node sees it, with its fingers, and the lookup path
/// of `key` if one is given.
fn ring_svg(node: &Node, key: Option<&str>) -> Result<String, String> {
    let entries = node.walk_ring(MAX_NODES).map_err(|e| e.to_string())?;
    let mut points: Vec<(NodeRef, Point)> = entries
        .into_iter()
        .map(|e| {
            let short: String = e.node.id.to_string().chars().take(6).collect();
            let port = e
                .node
                .addr
                .rsplit(':')
                .next()
                .unwrap_or(&e.node.addr)
                .to_string();
            let point = Point {
                at: fraction(e.node.id),
                label: format!("{short} :{port}"),
                keys: Some(e.keys),
            };
            (e.node, point)
        })
        .collect();
    points.sort_by(|a, b| a.1.at.total_cmp(&b.1.at));
    let me = node.me();
    let index = points.iter().position(|(n, _)| n == me);
    let mut targets: Vec<f64> = Vec::new();
    for (_, _, finger) in node.view().fingers {
        if let Some(at) = finger.map(|f| fraction(f.id)) {
            if !targets.contains(&at) {
                targets.push(at);
            }
        }
    }
    let path = match key {
        None => None,
        Some(key) => {
            let (id, lookup) = node.lookup(key).map_err(|e| e.to_string())?;
            let mut hops: Vec<f64> = vec![fraction(me.id)];
            hops.extend(lookup.path.iter().map(|n| fraction(n.id)));
            let owner = lookup.owner();
            hops.push(fraction(owner.id));
            // The label names the owner too, as the node list labels it.
            let short: String = owner.id.to_string().chars().take(6).collect();
            let port = owner.addr.rsplit(':').next().unwrap_or(&owner.addr);
            let label = format!("{key}, owned by {short} :{port}");
            Some((label, fraction(id), hops))
        }
    };
    let nodes: Vec<Point> = points.into_iter().map(|(_, p)| p).collect();
    svg::ring_svg_with_path(&nodes, index.map(|i| (i, targets)), path, 1000)
}

/// The page: it fetches `/ring.svg` every second, and with a key, the
/// path of its lookup.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Chord ring</title>
<style>
body { font-family: sans-serif; margin: 1em 2em; }
#ring svg { max-width: 100%; height: auto; }
#status { color: #666; }
</style>
</head>
<body>
<h1>Chord ring</h1>
<form id="lookup">
  <label>Draw the lookup path of key <input id="key" name="key" autocomplete="off"></label>
  <button type="submit">Look up</button>
  <button type="button" id="clear">Clear</button>
</form>
<p id="status">loading...</p>
<div id="ring"></div>
<script>
let key = new URLSearchParams(location.search).get("key") || "";
document.getElementById("key").value = key;
async function redraw() {
  const url = key ? "/ring.svg?key=" + encodeURIComponent(key) : "/ring.svg";
  try {
    const answer = await fetch(url, { cache: "no-store" });
    const text = await answer.text();
    if (answer.ok) {
      document.getElementById("ring").innerHTML = text;
      document.getElementById("status").textContent =
        "updated " + new Date().toLocaleTimeString() + (key ? "; lookup of " + key : "");
    } else {
      document.getElementById("status").textContent = "the node answered: " + text;
    }
  } catch (e) {
    document.getElementById("status").textContent = "no answer from the node: " + e;
  }
}
document.getElementById("lookup").addEventListener("submit", (e) => {
  e.preventDefault();
  key = document.getElementById("key").value.trim();
  redraw();
});
document.getElementById("clear").addEventListener("click", () => { key = ""; redraw(); });
redraw();
setInterval(redraw, 1000);
</script>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_three_word_lines_ending_in_http_are_requests() {
        assert_eq!(
            request_line(b"GET / HTTP/1.1\r"),
            Some(("GET".into(), "/".into()))
        );
        assert_eq!(request_line(b"GET key"), None, "a text-protocol GET");
        assert_eq!(request_line(b"GET a b"), None);
        assert_eq!(request_line(b"GET / HTTP/2"), None);
        assert_eq!(request_line(b"get / HTTP/1.1"), None);
    }

    #[test]
    fn keys_in_queries_are_decoded_and_bounded() {
        assert_eq!(key_of("key=hello%20world"), Some("hello world".into()));
        assert_eq!(key_of("a=1&key=x+y"), Some("x y".into()));
        assert_eq!(key_of("key="), None);
        assert_eq!(key_of("key=%zz"), None);
        let longest = "k".repeat(crate::store::MAX_KEY);
        assert_eq!(key_of(&format!("key={longest}")), Some(longest.clone()));
        assert_eq!(key_of(&format!("key={longest}k")), None);
    }
}
