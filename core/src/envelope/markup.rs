//! HTML pages, XML error documents and plain text: a tiny tag scanner, no XML crate.

use super::{cut, Dialect, Envelope, MAX_CODE, MAX_ID, MAX_MESSAGE, MAX_TEXT_LINE};

/// Position of the first ASCII-case-insensitive occurrence of `needle` (ASCII) in `hay`.
fn find_ci(hay: &str, from: usize, needle: &str) -> Option<usize> {
    let h = hay.as_bytes().get(from..)?;
    let n = needle.as_bytes();
    let first = *n.first()?;
    let mut i = 0usize;
    while i + n.len() <= h.len() {
        if h.get(i).is_some_and(|c| c.eq_ignore_ascii_case(&first))
            && h.get(i..i + n.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(n))
        {
            return Some(from + i);
        }
        i += 1;
    }
    None
}

/// After a tag name: the name really ends there (`<Error>`, `<Error a="1">`, `<Error/>`,
/// not `<Errors>`).
fn name_ends(s: &str, at: usize) -> bool {
    matches!(
        s.as_bytes().get(at),
        Some(b'>' | b'/' | b' ' | b'\t' | b'\r' | b'\n')
    )
}

/// The content of the first `<name ...>...</name>` element at or after `from` (name matched
/// without regard to ASCII case). Returns (content start, content end). A self-closing
/// element has empty content. When the closing tag is missing, the content runs to the end
/// if `open_ended`, else there is no match.
fn element(s: &str, from: usize, name: &str, open_ended: bool) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    let mut pos = from;
    loop {
        let lt = pos + s.get(pos..)?.find('<')?;
        let name_at = lt + 1;
        let name_end = name_at + name.len();
        let matches = b
            .get(name_at..name_end)
            .is_some_and(|w| w.eq_ignore_ascii_case(name.as_bytes()))
            && name_ends(s, name_end);
        if !matches {
            pos = name_at;
            continue;
        }
        let gt = name_end + s.get(name_end..)?.find('>')?;
        if gt > 0 && b.get(gt - 1) == Some(&b'/') {
            return Some((gt + 1, gt + 1));
        }
        let start = gt + 1;
        // The matching close tag: `</name` then `>` or whitespace.
        let mut search = start;
        loop {
            match s
                .get(search..)
                .and_then(|r| super::find_str(r, "</"))
                .map(|c| search + c)
            {
                Some(c) => {
                    let n_at = c + 2;
                    let n_end = n_at + name.len();
                    if b.get(n_at..n_end)
                        .is_some_and(|w| w.eq_ignore_ascii_case(name.as_bytes()))
                        && matches!(b.get(n_end), Some(b'>' | b' ' | b'\t' | b'\r' | b'\n'))
                    {
                        return Some((start, c));
                    }
                    search = n_at;
                }
                None => return open_ended.then_some((start, s.len())),
            }
        }
    }
}

/// The text of an element: CDATA unwrapped, inner tags removed, entities decoded, whitespace
/// collapsed, trimmed; `None` when empty.
fn element_text(s: &str, from: usize, name: &str, max_chars: usize) -> Option<String> {
    let (a, b) = element(s, from, name, false)?;
    clean(s.get(a..b)?, max_chars)
}

fn clean(raw: &str, max_chars: usize) -> Option<String> {
    let raw = raw.trim();
    let cdata = raw
        .strip_prefix("<![CDATA[")
        .and_then(|r| r.strip_suffix("]]>"));
    let literal = cdata.is_some();
    let raw = cdata.unwrap_or(raw);
    let mut out = String::with_capacity(raw.len().min(max_chars.saturating_mul(4)));
    let mut n = 0usize;
    let mut space = false;
    let mut in_tag = false;
    let mut rest = raw;
    while let Some(c) = rest.chars().next() {
        if n >= max_chars {
            break;
        }
        rest = rest.get(c.len_utf8()..).unwrap_or("");
        if in_tag {
            in_tag = c != '>';
            continue;
        }
        let ch = match c {
            _ if literal => c,
            '<' => {
                in_tag = true;
                space = !out.is_empty();
                continue;
            }
            '&' => match entity(rest) {
                Some((ch, used)) => {
                    rest = rest.get(used..).unwrap_or("");
                    ch
                }
                None => '&',
            },
            c => c,
        };
        if ch.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            n += 1;
            space = false;
            if n >= max_chars {
                break;
            }
        }
        out.push(ch);
        n += 1;
    }
    (!out.is_empty()).then_some(out)
}

/// A character reference after `&`: returns the character and the bytes used (incl. `;`).
fn entity(rest: &str) -> Option<(char, usize)> {
    // `;` is ASCII, so slicing at it never splits a character.
    let semi = rest.bytes().take(12).position(|b| b == b';')?;
    let name = rest.get(..semi)?;
    let ch = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        _ => {
            let num = name.strip_prefix('#')?;
            let cp = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => u32::try_from(super::parse_u64(num)?).ok()?,
            };
            char::from_u32(cp).unwrap_or('\u{FFFD}')
        }
    };
    Some((ch, semi + 1))
}

/// The first non-empty line, trimmed, at most `MAX_TEXT_LINE` characters.
pub(super) fn first_line(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| cut(l, MAX_TEXT_LINE).to_owned())
}

/// A plain-text body.
pub(super) fn text(body: &str) -> Envelope {
    Envelope {
        dialect: Dialect::Text,
        message: first_line(body),
        ..Envelope::default()
    }
}

fn starts_ci(s: &str, prefix: &str) -> bool {
    s.as_bytes()
        .get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// A body that starts with `<` (or is labelled HTML): an HTML page, an XML error document
/// (AWS, Azure Storage), or other markup read as text.
pub(super) fn markup(body: &str, ct_html: bool) -> Envelope {
    let strong_html = ct_html || starts_ci(body, "<!doctype html") || starts_ci(body, "<html");
    if !strong_html {
        if let Some(env) = xml_error(body) {
            return env;
        }
    }
    // Weaker signs of a page: a <title>, <head>, <body> or <h1> somewhere.
    let html = strong_html
        || ["<html", "<head", "<title", "<body", "<h1"]
            .iter()
            .any(|t| find_ci(body, 0, t).is_some());
    if html {
        return html_page(body);
    }
    // Other markup: its text content.
    Envelope {
        dialect: Dialect::Text,
        message: body.lines().filter_map(|l| clean(l, MAX_TEXT_LINE)).next(),
        ..Envelope::default()
    }
}

fn html_page(body: &str) -> Envelope {
    let message = element_text(body, 0, "title", MAX_TEXT_LINE)
        .or_else(|| element_text(body, 0, "h1", MAX_TEXT_LINE));
    Envelope {
        dialect: Dialect::Html,
        message,
        ..Envelope::default()
    }
}

/// `<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId></Error>` (S3, Azure
/// Storage), `<ErrorResponse><Error>…</Error><RequestId>…</RequestId></ErrorResponse>` (AWS
/// Query protocol) and EC2's `<Response><Errors><Error>…</Error></Errors><RequestID>…`.
fn xml_error(body: &str) -> Option<Envelope> {
    let (a, b) = element(body, 0, "Error", true)?;
    let region = body.get(a..b)?;
    let code = element_text(region, 0, "Code", MAX_CODE);
    let message = element_text(region, 0, "Message", MAX_MESSAGE);
    let request_id = element_text(body, 0, "RequestId", MAX_ID);
    let reference_id = element_text(body, 0, "HostId", MAX_ID);
    let signals_error = code.is_some() || message.is_some();
    Some(Envelope {
        dialect: Dialect::AwsXml,
        code,
        message,
        request_id,
        reference_id,
        signals_error,
        ..Envelope::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements() {
        let s = "<Response><Errors><Error><Code>X</Code></Error></Errors><RequestID>r1</RequestID></Response>";
        assert_eq!(element_text(s, 0, "requestid", 10).as_deref(), Some("r1"));
        let (a, b) = element(s, 0, "Error", true).unwrap();
        assert_eq!(&s[a..b], "<Code>X</Code>");
        assert_eq!(element(s, 0, "Code/", false), None);
        assert_eq!(element("<a/><b>", 0, "a", false), Some((4, 4)));
        assert_eq!(
            clean(" a &amp;\n  b &#x41;&#66;&bogus; <i>c</i>", 100).as_deref(),
            Some("a & b AB&bogus; c")
        );
        assert_eq!(clean("<![CDATA[x < y]]>", 100).as_deref(), Some("x < y"));
        assert_eq!(clean("abcdef", 3).as_deref(), Some("abc"));
        assert_eq!(clean("&amp;ééééé", 100).as_deref(), Some("&ééééé"));
        assert_eq!(
            clean("&#x1F600;&#99999999;", 100).as_deref(),
            Some("😀\u{FFFD}")
        );
    }
}
