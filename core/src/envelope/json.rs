//! A small, bounded JSON reader made for error envelopes.
//!
//! It parses into a flat "tape" of [`Node`]s that borrow from the body (strings stay raw until
//! something asks for them), iteratively (no recursion, so no stack overflow on deep input),
//! with a depth cap checked at every opening bracket. Besides the full parser there are two
//! cheap linear scans that never build anything: [`structure`] (does the value close, and how
//! deep is it) and [`salvage`] (pull a few well-known string members out of broken JSON).

use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::cell::Cell;

/// What a node is. Strings remember whether their raw text holds escapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Null,
    True,
    False,
    Num,
    Str,
    StrEsc,
    Arr,
    Obj,
}

/// One value of the tape, in document order. A container's children follow it; `end` is the
/// index one past its last descendant, so the next sibling of node `i` is `nodes[i].end`.
/// Text is kept as byte offsets into the source (24 bytes a node).
#[derive(Debug, Clone, Copy)]
pub(super) struct Node {
    pub kind: Kind,
    /// Whether the member name holds escapes.
    pub key_esc: bool,
    /// The member name (raw, between the quotes) when the parent is an object: start, length.
    key: (u32, u32),
    /// String contents (raw, between the quotes) or a number literal: start, length. For a
    /// container, its whole text from the opening to the closing bracket.
    raw: (u32, u32),
    /// One past the last node of this subtree (while a container is open: its parent).
    pub end: u32,
}

fn span(src: &str, s: (u32, u32)) -> &str {
    let a = s.0 as usize;
    src.get(a..a + s.1 as usize).unwrap_or("")
}

/// `x` as a `u32`, or [`Fail::Syntax`] when it does not fit. With `FITS` (the caller has
/// checked that the whole source is at most `u32::MAX` bytes, so every position and count
/// fits) the check is skipped: it cost a compare and branch at every node.
#[inline(always)]
fn to_u32<const FITS: bool>(x: usize) -> Result<u32, Fail> {
    if FITS {
        Ok(x as u32)
    } else {
        u32::try_from(x).map_err(|_| Fail::Syntax)
    }
}

/// The text from byte `start` to byte `end` as (start, length).
#[inline(always)]
fn offsets<const FITS: bool>(start: usize, end: usize) -> Result<(u32, u32), Fail> {
    let a = to_u32::<FITS>(start)?;
    let n = to_u32::<FITS>(end.saturating_sub(start))?;
    Ok((a, n))
}

/// Why a parse stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fail {
    /// The input ended inside a value.
    Eof,
    /// A byte that JSON does not allow there.
    Syntax,
    /// A container nested deeper than the cap.
    TooDeep,
}

/// A parsed document: node 0 is the root.
#[derive(Debug)]
pub(super) struct Tree<'a> {
    src: &'a str,
    nodes: NodeBuf,
    /// Details found in this tree are marked present, not built (see [`Details::deferred`]).
    ///
    /// [`Details::deferred`]: super::Details::deferred
    defer_details: bool,
}

/// Most node buffers this small are kept for the next parse on the same thread.
const MAX_SPARE_NODES: usize = 1024;

thread_local! {
    /// The node buffer of the last parse on this thread, emptied, for the next one to reuse:
    /// `classify` parses one body per call, and allocating and freeing the buffer each time
    /// was about 2% of classifying a small envelope (natively, glibc's allocator). Holds at
    /// most [`MAX_SPARE_NODES`] nodes (24 KiB) of capacity.
    static SPARE_NODES: Cell<Vec<Node>> = const { Cell::new(Vec::new()) };
}

/// A parse's node buffer: taken from [`SPARE_NODES`] (or newly allocated) and given back,
/// emptied, when dropped, whether the parse succeeded (with its [`Tree`]) or not. Two trees
/// alive at once simply use two buffers; the one dropped last is kept.
#[derive(Debug)]
struct NodeBuf(Vec<Node>);

impl NodeBuf {
    /// An empty buffer with room for at least `capacity` nodes.
    fn with_capacity(capacity: usize) -> NodeBuf {
        // `try_with` fails only while the thread is being torn down: then allocate afresh.
        let mut v = SPARE_NODES.try_with(Cell::take).unwrap_or_default();
        v.clear();
        v.reserve(capacity);
        NodeBuf(v)
    }
}

impl Drop for NodeBuf {
    fn drop(&mut self) {
        if self.0.capacity() <= MAX_SPARE_NODES {
            let mut v = std::mem::take(&mut self.0);
            v.clear();
            // Replaces (and frees) whatever spare there is; a no-op during thread teardown.
            let _ = SPARE_NODES.try_with(|s| s.set(v));
        }
    }
}

impl std::ops::Deref for NodeBuf {
    type Target = Vec<Node>;
    fn deref(&self) -> &Vec<Node> {
        &self.0
    }
}

impl std::ops::DerefMut for NodeBuf {
    fn deref_mut(&mut self) -> &mut Vec<Node> {
        &mut self.0
    }
}

fn skip_ws(b: &[u8], mut pos: usize) -> usize {
    while let Some(c) = b.get(pos) {
        if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
            pos += 1;
        } else {
            break;
        }
    }
    pos
}

/// Scan a string whose opening quote is at `pos - 1`. Returns (raw contents, has escapes,
/// position after the closing quote).
fn scan_string(src: &str, pos: usize) -> Result<(&str, bool, usize), Fail> {
    let (end, esc) = string_end(src.as_bytes(), pos)?;
    let raw = src.get(pos..end).ok_or(Fail::Syntax)?;
    Ok((raw, esc, end + 1))
}

/// Scan a string whose opening quote is at `pos - 1`. Returns (position of the closing quote,
/// has escapes). Both ends of the contents are next to an ASCII quote, so they are always
/// character boundaries. Inlined: called once per string, its call, register saves and
/// constant setup cost about as much as scanning a short member name.
#[inline(always)]
fn string_end(b: &[u8], pos: usize) -> Result<(usize, bool), Fail> {
    let mut pos = pos;
    let mut esc = false;
    loop {
        // Fast path: run to the next quote or backslash.
        let rest = b.get(pos..).ok_or(Fail::Eof)?;
        match find_quote_or_backslash(rest) {
            None => return Err(Fail::Eof),
            Some(n) => pos += n,
        }
        match b.get(pos) {
            Some(b'"') => break,
            _ => {
                esc = true;
                match b.get(pos + 1) {
                    None => return Err(Fail::Eof),
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => pos += 2,
                    Some(b'u') => {
                        for i in 2..6 {
                            match b.get(pos + i) {
                                None => return Err(Fail::Eof),
                                Some(h) if h.is_ascii_hexdigit() => {}
                                Some(_) => return Err(Fail::Syntax),
                            }
                        }
                        pos += 6;
                    }
                    Some(_) => return Err(Fail::Syntax),
                }
            }
        }
    }
    Ok((pos, esc))
}

/// The first `"` or `\\` in `b`, sixteen bytes (two words) at a time, then a word, then byte
/// by byte (SWAR: see [`quote_or_backslash_mask`]). Two words a step test both with one
/// branch and half the loop overhead: long messages and URLs are most of an envelope's bytes.
#[inline(always)]
fn find_quote_or_backslash(b: &[u8]) -> Option<usize> {
    let word = |c: &[u8]| {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        quote_or_backslash_mask(u64::from_le_bytes(w))
    };
    let mut i = 0usize;
    let mut pairs = b.chunks_exact(16);
    for pair in &mut pairs {
        let (lo, hi) = pair.split_at(8);
        let (lo, hi) = (word(lo), word(hi));
        if lo | hi != 0 {
            let at = if lo != 0 {
                lo.trailing_zeros()
            } else {
                64 + hi.trailing_zeros()
            };
            return Some(i + (at / 8) as usize);
        }
        i += 16;
    }
    let mut rest = pairs.remainder();
    if let Some((w, tail)) = rest.split_first_chunk::<8>() {
        let m = quote_or_backslash_mask(u64::from_le_bytes(*w));
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
        rest = tail;
    }
    rest.iter()
        .position(|&c| c == b'"' || c == b'\\')
        .map(|p| i + p)
}

/// The high bit set in the lowest byte of `w` (little-endian) that is `"` or `\\`, and maybe in
/// higher bytes too, but in none below it; zero when there is none. A byte equal to the target
/// becomes zero after XOR, and `(x - 0x01…) & !x & 0x80…` flags the lowest zero byte exactly.
#[inline(always)]
fn quote_or_backslash_mask(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let q = w ^ (ONES * u64::from(b'"'));
    let s = w ^ (ONES * u64::from(b'\\'));
    (q.wrapping_sub(ONES) & !q & HIGHS) | (s.wrapping_sub(ONES) & !s & HIGHS)
}

fn scan_digits(b: &[u8], mut pos: usize) -> Result<usize, Fail> {
    match b.get(pos) {
        None => return Err(Fail::Eof),
        Some(c) if c.is_ascii_digit() => pos += 1,
        Some(_) => return Err(Fail::Syntax),
    }
    while b.get(pos).is_some_and(u8::is_ascii_digit) {
        pos += 1;
    }
    Ok(pos)
}

/// Scan a number starting at `pos`; returns the position after it. Inlined into the parser
/// (its only caller): as a call it cost about as much again as scanning a short integer.
#[inline(always)]
fn scan_number(b: &[u8], mut pos: usize) -> Result<usize, Fail> {
    if b.get(pos) == Some(&b'-') {
        pos += 1;
    }
    match b.get(pos) {
        None => return Err(Fail::Eof),
        Some(b'0') => pos += 1,
        Some(b'1'..=b'9') => pos = scan_digits(b, pos)?,
        Some(_) => return Err(Fail::Syntax),
    }
    if b.get(pos) == Some(&b'.') {
        pos = scan_digits(b, pos + 1)?;
    }
    if matches!(b.get(pos), Some(b'e' | b'E')) {
        pos += 1;
        if matches!(b.get(pos), Some(b'+' | b'-')) {
            pos += 1;
        }
        pos = scan_digits(b, pos)?;
    }
    Ok(pos)
}

fn scan_literal(b: &[u8], pos: usize, lit: &[u8]) -> Result<usize, Fail> {
    for (i, want) in lit.iter().enumerate() {
        match b.get(pos + i) {
            None => return Err(Fail::Eof),
            Some(c) if c == want => {}
            Some(_) => return Err(Fail::Syntax),
        }
    }
    Ok(pos + lit.len())
}

/// Parse one JSON value at the start of `src` (leading whitespace allowed). Returns the tree
/// and the position just after the value. Containers deeper than `max_depth` fail with
/// [`Fail::TooDeep`] as soon as their opening bracket is seen.
pub(super) fn parse(src: &str, max_depth: usize) -> Result<(Tree<'_>, usize), Fail> {
    // Every position, length and node index is at most `src.len()`; when that fits a `u32`
    // (always on 32-bit targets, where the other branch folds away) no conversion can fail.
    if u32::try_from(src.len()).is_ok() {
        parse_with::<true>(src, max_depth)
    } else {
        parse_with::<false>(src, max_depth)
    }
}

/// [`parse`], with the `u32` conversions unchecked when `FITS` (see [`to_u32`]).
fn parse_with<const FITS: bool>(src: &str, max_depth: usize) -> Result<(Tree<'_>, usize), Fail> {
    let b = src.as_bytes();
    // A rough guess: one node per 12 bytes, bounded so a small body costs one small allocation.
    let mut nodes = NodeBuf::with_capacity((b.len() / 12).clamp(4, 4096));
    // The open containers form a chain through `end` (each points at its parent), so no
    // stack is allocated: `open` is the innermost one, `depth` how many there are.
    const ROOT: u32 = u32::MAX;
    let mut open: u32 = ROOT;
    let mut open_is_obj = false;
    let mut depth = 0usize;
    let mut pos = skip_ws(b, 0);
    let mut key = (0u32, 0u32);
    let mut key_esc = false;

    'value: loop {
        // Expecting a value at `pos`.
        let idx = to_u32::<FITS>(nodes.len())?;
        let mut node = Node {
            kind: Kind::Null,
            key_esc,
            key,
            raw: (0, 0),
            end: idx.checked_add(1).ok_or(Fail::Syntax)?,
        };
        key = (0, 0);
        key_esc = false;
        match b.get(pos) {
            None => return Err(Fail::Eof),
            Some(&c @ (b'{' | b'[')) => {
                if depth >= max_depth {
                    return Err(Fail::TooDeep);
                }
                let is_obj = c == b'{';
                node.kind = if is_obj { Kind::Obj } else { Kind::Arr };
                // The length is filled in when the container closes.
                node.raw = (to_u32::<FITS>(pos)?, 0);
                node.end = open;
                nodes.push(node);
                open = idx;
                open_is_obj = is_obj;
                depth += 1;
                pos = skip_ws(b, pos + 1);
                let close = if is_obj { b'}' } else { b']' };
                match b.get(pos) {
                    None => return Err(Fail::Eof),
                    Some(&c) if c == close => {
                        // Empty container: closed below, with the general "after a value" code.
                    }
                    Some(_) if is_obj => {
                        let (k, e, p) = member_name(b, pos)?;
                        key = offsets::<FITS>(k.0, k.1)?;
                        key_esc = e;
                        pos = p;
                        continue 'value;
                    }
                    Some(_) => continue 'value,
                }
            }
            Some(b'"') => {
                let (end, esc) = string_end(b, pos + 1)?;
                node.kind = if esc { Kind::StrEsc } else { Kind::Str };
                node.raw = offsets::<FITS>(pos + 1, end)?;
                nodes.push(node);
                pos = end + 1;
            }
            Some(b't') => {
                pos = scan_literal(b, pos, b"true")?;
                node.kind = Kind::True;
                nodes.push(node);
            }
            Some(b'f') => {
                pos = scan_literal(b, pos, b"false")?;
                node.kind = Kind::False;
                nodes.push(node);
            }
            Some(b'n') => {
                pos = scan_literal(b, pos, b"null")?;
                nodes.push(node);
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = pos;
                pos = scan_number(b, pos)?;
                node.kind = Kind::Num;
                node.raw = offsets::<FITS>(start, pos)?;
                nodes.push(node);
            }
            Some(_) => return Err(Fail::Syntax),
        }

        // After a value: close containers or move to the next member / element.
        loop {
            if open == ROOT {
                return Ok((
                    Tree {
                        src,
                        nodes,
                        defer_details: false,
                    },
                    pos,
                ));
            }
            pos = skip_ws(b, pos);
            match b.get(pos) {
                None => return Err(Fail::Eof),
                Some(b',') => {
                    pos = skip_ws(b, pos + 1);
                    if open_is_obj {
                        let (k, e, p) = member_name(b, pos)?;
                        key = offsets::<FITS>(k.0, k.1)?;
                        key_esc = e;
                        pos = p;
                    }
                    continue 'value;
                }
                Some(b'}') if open_is_obj => {}
                Some(b']') if !open_is_obj => {}
                Some(_) => return Err(Fail::Syntax),
            }
            pos += 1;
            let end = to_u32::<FITS>(nodes.len())?;
            let n = nodes.get_mut(open as usize).ok_or(Fail::Syntax)?;
            let parent = n.end;
            n.end = end;
            n.raw.1 = to_u32::<FITS>(pos.saturating_sub(n.raw.0 as usize))?;
            open = parent;
            depth = depth.saturating_sub(1);
            open_is_obj = match nodes.get(open as usize) {
                Some(p) => p.kind == Kind::Obj,
                None => false,
            };
        }
    }
}

/// `"name"` then `:` at `pos`; returns (the raw name's start and end, has escapes, position
/// of the value).
#[inline(always)]
fn member_name(b: &[u8], pos: usize) -> Result<((usize, usize), bool, usize), Fail> {
    match b.get(pos) {
        None => return Err(Fail::Eof),
        Some(b'"') => {}
        Some(_) => return Err(Fail::Syntax),
    }
    let (end, esc) = string_end(b, pos + 1)?;
    let p = skip_ws(b, end + 1);
    match b.get(p) {
        None => Err(Fail::Eof),
        Some(b':') => Ok(((pos + 1, end), esc, skip_ws(b, p + 1))),
        Some(_) => Err(Fail::Syntax),
    }
}

/// What a cheap pass over brackets (respecting strings) says about a body that starts with
/// `{` or `[`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Structure {
    /// The outermost value closes within the bytes seen.
    pub closes: bool,
    /// The deepest nesting seen (stops counting once past the cap).
    pub too_deep: bool,
}

/// Count brackets, skipping strings, until the outermost container closes or the input ends.
/// Never allocates.
pub(super) fn structure(src: &str, max_depth: usize) -> Structure {
    let b = src.as_bytes();
    let mut depth = 0usize;
    let mut too_deep = false;
    let mut pos = skip_ws(b, 0);
    while let Some(&c) = b.get(pos) {
        match c {
            b'"' => {
                // Skip the string; an escape skips the next byte.
                pos += 1;
                loop {
                    match b.get(pos) {
                        None => {
                            return Structure {
                                closes: false,
                                too_deep,
                            }
                        }
                        Some(b'"') => break,
                        Some(b'\\') => pos += 2,
                        Some(_) => pos += 1,
                    }
                }
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > max_depth {
                    too_deep = true;
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Structure {
                        closes: true,
                        too_deep,
                    };
                }
            }
            _ => {}
        }
        pos += 1;
    }
    Structure {
        closes: false,
        too_deep,
    }
}

/// String members found by [`salvage`] (raw, escapes not decoded).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Salvaged<'a> {
    pub code: Option<(&'a str, bool)>,
    pub error_code: Option<(&'a str, bool)>,
    pub message: Option<(&'a str, bool)>,
    pub error: Option<(&'a str, bool)>,
    pub detail: Option<(&'a str, bool)>,
    pub request_id: Option<(&'a str, bool)>,
}

/// Pull the first complete string value of `"code"`, `"error_code"`, `"message"`, `"error"`,
/// `"detail"` and `"request_id"` members out of JSON that could not be parsed (cut short, too
/// deep, malformed), at any depth. One linear pass; strings are skipped properly, so a member
/// name quoted inside another string is not mistaken for one. Never allocates.
pub(super) fn salvage(src: &str) -> Salvaged<'_> {
    let b = src.as_bytes();
    let mut out = Salvaged::default();
    let mut pos = 0usize;
    while let Some(&c) = b.get(pos) {
        if c != b'"' {
            pos += 1;
            continue;
        }
        let Ok((s, _esc, after)) = scan_string(src, pos + 1) else {
            // An unterminated or broken string: nothing more to find.
            break;
        };
        let p = skip_ws(b, after);
        if b.get(p) != Some(&b':') {
            pos = after;
            continue;
        }
        let slot = match s {
            "code" => &mut out.code,
            "error_code" => &mut out.error_code,
            "message" => &mut out.message,
            "error" => &mut out.error,
            "detail" => &mut out.detail,
            "request_id" => &mut out.request_id,
            _ => {
                pos = p + 1;
                continue;
            }
        };
        let v = skip_ws(b, p + 1);
        if b.get(v) == Some(&b'"') {
            match scan_string(src, v + 1) {
                Ok((val, esc, after_val)) => {
                    if slot.is_none() {
                        *slot = Some((val, esc));
                    }
                    pos = after_val;
                }
                Err(_) => break,
            }
        } else {
            pos = v;
        }
    }
    out
}

/// Decode the raw contents of a JSON string (escapes resolved, lone surrogates replaced by
/// U+FFFD), keeping at most `max_chars` characters. The text between escapes is copied a run
/// at a time, not character by character.
pub(super) fn decode(raw: &str, esc: bool, max_chars: usize) -> Cow<'_, str> {
    if !esc {
        return Cow::Borrowed(cut_chars(raw, max_chars));
    }
    let mut out = String::with_capacity(raw.len().min(max_chars.saturating_mul(4)));
    let mut n = 0usize;
    let mut rest = raw;
    while n < max_chars {
        // The run before the next backslash, whole or cut to the characters left.
        let (run, tail) = match rest.bytes().position(|c| c == b'\\') {
            Some(p) => (rest.get(..p).unwrap_or(""), rest.get(p..).unwrap_or("")),
            None => (rest, ""),
        };
        let kept = cut_chars(run, max_chars - n);
        out.push_str(kept);
        if kept.len() < run.len() {
            break;
        }
        n += run.chars().count();
        if n >= max_chars {
            break;
        }
        // `tail` starts with the backslash; a lone one at the end ends the text.
        let Some(e) = tail.get(1..).and_then(|t| t.chars().next()) else {
            break;
        };
        let mut used = 1 + e.len_utf8();
        let ch = match e {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let hi = hex4(tail, 2);
                // The four characters after `u` are skipped, hex or not.
                let after = tail.get(2..).unwrap_or("");
                used = 2 + after.char_indices().nth(4).map_or(after.len(), |(k, _)| k);
                match hi {
                    Some(h @ 0xD800..=0xDBFF) => {
                        // A high surrogate: a low one must follow as `\uDC00`..`\uDFFF`.
                        let lo = if tail.get(6..8) == Some("\\u") {
                            hex4(tail, 8).filter(|l| (0xDC00..=0xDFFF).contains(l))
                        } else {
                            None
                        };
                        match lo {
                            Some(l) => {
                                used += 6;
                                let cp = 0x10000 + ((h - 0xD800) << 10) + (l - 0xDC00);
                                char::from_u32(cp).unwrap_or('\u{FFFD}')
                            }
                            None => '\u{FFFD}',
                        }
                    }
                    Some(cp) => char::from_u32(cp).unwrap_or('\u{FFFD}'),
                    None => '\u{FFFD}',
                }
            }
            other => other,
        };
        out.push(ch);
        n += 1;
        rest = tail.get(used..).unwrap_or("");
    }
    Cow::Owned(out)
}

fn hex4(s: &str, at: usize) -> Option<u32> {
    let h = s.get(at..at + 4)?;
    u32::from_str_radix(h, 16).ok()
}

/// True when `c` is a printable ASCII byte: never part of whitespace (every character that
/// `str::trim` removes is either an ASCII byte up to the space or not ASCII at all).
#[inline]
fn solid(c: Option<&u8>) -> bool {
    c.is_some_and(|&c| c > b' ' && c.is_ascii())
}

/// The ASCII characters `str::trim` removes (Unicode `White_Space`: tab, LF, VT, FF, CR, space).
#[inline]
fn ascii_space(c: u8) -> bool {
    matches!(c, b'\t'..=b'\r' | b' ')
}

/// Eight spaces, as one word: padding is often a run of them.
const SPACES: u64 = u64::from_ne_bytes([b' '; 8]);

/// Where the ASCII whitespace at the start of `b` ends.
fn space_end(b: &[u8]) -> usize {
    let mut i = 0;
    while let Some(w) = b.get(i..i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        if u64::from_ne_bytes(w) != SPACES {
            break;
        }
        i += 8;
    }
    i + b
        .get(i..)
        .unwrap_or_default()
        .iter()
        .position(|&c| !ascii_space(c))
        .unwrap_or(b.len() - i)
}

/// Where the ASCII whitespace at the end of `b` starts.
fn space_start(b: &[u8]) -> usize {
    let mut end = b.len();
    while let Some(w) = end
        .checked_sub(8)
        .and_then(|s| b.get(s..end))
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
    {
        if u64::from_ne_bytes(w) != SPACES {
            break;
        }
        end -= 8;
    }
    b.get(..end)
        .unwrap_or_default()
        .iter()
        .rposition(|&c| !ascii_space(c))
        .map_or(0, |i| i + 1)
}

/// `s.trim()`, without decoding characters while the ends are ASCII (the common case): ASCII
/// whitespace is stripped byte by byte (a JSON body padded with spaces or ending in a newline),
/// and only an end that is not ASCII goes through the char-decoding `str::trim`.
#[inline]
pub(super) fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    if solid(b.first()) && solid(b.last()) {
        return s;
    }
    let start = space_end(b);
    let end = start + space_start(b.get(start..).unwrap_or_default());
    // Both cuts sit next to ASCII bytes, so on char boundaries: `get` never fails here.
    let t = s.get(start..end).unwrap_or(s);
    match (t.as_bytes().first(), t.as_bytes().last()) {
        (Some(&f), Some(&l)) if !f.is_ascii() || !l.is_ascii() => t.trim(),
        _ => t,
    }
}

/// `s.trim_start()`, without decoding characters while it starts with ASCII.
#[inline]
pub(super) fn trim_start(s: &str) -> &str {
    let b = s.as_bytes();
    if solid(b.first()) {
        return s;
    }
    let t = s.get(space_end(b)..).unwrap_or(s);
    match t.as_bytes().first() {
        Some(f) if !f.is_ascii() => t.trim_start(),
        _ => t,
    }
}

/// The longest prefix of `s` with at most `max_chars` characters.
pub(super) fn cut_chars(s: &str, max_chars: usize) -> &str {
    if s.len() <= max_chars {
        // Never more characters than bytes.
        return s;
    }
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

// The small accessors are `#[inline]`: their callers in `dialects` may sit in another codegen
// unit, and as calls they cost as much as their bodies.
impl<'a> Tree<'a> {
    /// Details found in this tree are to be marked present, not built.
    pub(super) fn defer_details(&mut self) {
        self.defer_details = true;
    }

    /// Whether details found in this tree are marked present, not built.
    #[inline]
    pub(super) fn details_deferred(&self) -> bool {
        self.defer_details
    }

    /// The kind of node `i` (`None` when out of range).
    #[inline]
    pub fn kind(&self, i: usize) -> Option<Kind> {
        self.nodes.get(i).map(|n| n.kind)
    }

    /// The raw member name of node `i` and whether it holds escapes.
    #[inline]
    pub fn key(&self, i: usize) -> Option<(&'a str, bool)> {
        self.nodes
            .get(i)
            .map(|n| (span(self.src, n.key), n.key_esc))
    }

    /// The raw text of node `i` (string contents or a number literal; empty otherwise).
    #[inline]
    fn raw(&self, n: &Node) -> &'a str {
        span(self.src, n.raw)
    }

    /// The children of container `i` (empty for scalars).
    #[inline]
    pub fn children(&self, i: usize) -> Children<'_, 'a> {
        let end = match self.nodes.get(i) {
            Some(n) if matches!(n.kind, Kind::Arr | Kind::Obj) => n.end as usize,
            _ => 0,
        };
        Children {
            tree: self,
            next: i + 1,
            end,
        }
    }

    /// The last member of object `i` named `name` (JSON parsers commonly let the last of
    /// duplicate names win).
    pub fn get(&self, i: usize, name: &str) -> Option<usize> {
        if self.kind(i) != Some(Kind::Obj) {
            return None;
        }
        let mut found = None;
        for c in self.children(i) {
            if let Some((k, esc)) = self.key(c) {
                if key_is(k, esc, name) {
                    found = Some(c);
                }
            }
        }
        found
    }

    /// The number of children of container `i`.
    pub fn len(&self, i: usize) -> usize {
        self.children(i).count()
    }

    /// The `n`-th child of container `i`.
    pub fn nth(&self, i: usize, n: usize) -> Option<usize> {
        self.children(i).nth(n)
    }

    /// The decoded text of string node `i`, trimmed, at most `max_chars` characters; `None`
    /// for other kinds and for strings that are empty after trimming.
    pub fn text(&self, i: usize, max_chars: usize) -> Option<String> {
        self.text_cow(i, max_chars).map(Cow::into_owned)
    }

    /// Like [`Tree::text`], but borrowed from the body when the string holds no escapes (no
    /// allocation for the common case).
    pub fn text_cow(&self, i: usize, max_chars: usize) -> Option<Cow<'a, str>> {
        let n = self.nodes.get(i)?;
        match n.kind {
            // Without escapes, decoding is cutting: no Cow to build and match.
            Kind::Str => {
                let t = trim(cut_chars(trim_start(self.raw(n)), max_chars));
                (!t.is_empty()).then_some(Cow::Borrowed(t))
            }
            Kind::StrEsc => {
                let s = decode(trim_start(self.raw(n)), true, max_chars);
                let t = trim(&s);
                (!t.is_empty()).then(|| Cow::Owned(t.to_owned()))
            }
            _ => None,
        }
    }

    /// Like [`Tree::text`], but an integer literal also counts (`"code": 404` → `"404"`).
    pub fn code(&self, i: usize, max_chars: usize) -> Option<String> {
        let n = self.nodes.get(i)?;
        if n.kind == Kind::Num {
            let raw = self.raw(n);
            if raw.bytes().all(|c| c.is_ascii_digit() || c == b'-') {
                return Some(cut_chars(raw, max_chars).to_owned());
            }
            return None;
        }
        self.text(i, max_chars)
    }

    /// True when node `i` is a string equal to `s` (escapes resolved).
    pub fn str_is(&self, i: usize, s: &str) -> bool {
        match self.nodes.get(i) {
            Some(n) if n.kind == Kind::Str => self.raw(n) == s,
            Some(n) if n.kind == Kind::StrEsc => decode(self.raw(n), true, s.len() + 1) == s,
            _ => false,
        }
    }

    /// Node `i` as a boolean.
    #[inline]
    pub fn boolean(&self, i: usize) -> Option<bool> {
        match self.kind(i)? {
            Kind::True => Some(true),
            Kind::False => Some(false),
            _ => None,
        }
    }

    /// The literal of number node `i`.
    #[inline]
    pub fn num_raw(&self, i: usize) -> Option<&'a str> {
        match self.nodes.get(i) {
            Some(n) if n.kind == Kind::Num => Some(self.raw(n)),
            _ => None,
        }
    }

    /// Node `i` as an integer, when it is an integer literal.
    pub fn int(&self, i: usize) -> Option<i64> {
        super::parse_i64(self.num_raw(i)?)
    }

    /// The JSON text of node `i` exactly as it appears in the source (a string with its quotes,
    /// a container from its opening to its closing bracket); empty when out of range.
    #[inline]
    pub fn json_text(&self, i: usize) -> &'a str {
        let Some(n) = self.nodes.get(i) else {
            return "";
        };
        match n.kind {
            Kind::Null => "null",
            Kind::True => "true",
            Kind::False => "false",
            Kind::Num | Kind::Arr | Kind::Obj => self.raw(n),
            Kind::Str | Kind::StrEsc => {
                let a = (n.raw.0 as usize).wrapping_sub(1);
                let len = (n.raw.1 as usize).saturating_add(2);
                self.src.get(a..a.wrapping_add(len)).unwrap_or("")
            }
        }
    }

    /// The decoded contents of string node `i`, whole (`None` for other kinds).
    pub fn string(&self, i: usize) -> Option<Cow<'a, str>> {
        let n = self.nodes.get(i)?;
        match n.kind {
            Kind::Str => Some(Cow::Borrowed(self.raw(n))),
            Kind::StrEsc => Some(decode(self.raw(n), true, usize::MAX)),
            _ => None,
        }
    }

    /// The decoded member name of node `i`, whole (empty when it has none).
    pub fn name(&self, i: usize) -> Cow<'a, str> {
        let (k, esc) = self.key(i).unwrap_or(("", false));
        decode(k, esc, usize::MAX)
    }

    /// Node `i` as a [`serde_json::Value`]. Recursion is bounded by the parse depth cap.
    pub fn to_value(&self, i: usize) -> Value {
        let Some(n) = self.nodes.get(i) else {
            return Value::Null;
        };
        match n.kind {
            Kind::Null => Value::Null,
            Kind::True => Value::Bool(true),
            Kind::False => Value::Bool(false),
            Kind::Num => number(self.raw(n)),
            Kind::Str => Value::String(self.raw(n).to_owned()),
            Kind::StrEsc => Value::String(decode(self.raw(n), true, usize::MAX).into_owned()),
            Kind::Arr => Value::Array(self.children(i).map(|c| self.to_value(c)).collect()),
            Kind::Obj => {
                let mut m = Map::new();
                for c in self.children(i) {
                    if let Some((k, esc)) = self.key(c) {
                        m.insert(decode(k, esc, usize::MAX).into_owned(), self.to_value(c));
                    }
                }
                Value::Object(m)
            }
        }
    }
}

/// A number literal as a JSON number: integers exactly when they fit, else a float; a float
/// that does not fit (`1e999`) becomes `null`.
fn number(raw: &str) -> Value {
    if !raw.bytes().any(|c| matches!(c, b'.' | b'e' | b'E')) {
        if let Some(v) = super::parse_i64(raw) {
            return Value::Number(v.into());
        }
        if let Some(v) = super::parse_u64(raw) {
            return Value::Number(v.into());
        }
    }
    // `raw.parse::<f64>()`, without std's tables (see `float`).
    super::float::parse_f64(raw)
        .and_then(Number::from_f64)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// True when the raw member name `key` (with escapes if `esc`) is `name`.
///
/// Without escapes, the length and the first byte are compared before the whole name: most
/// names that differ differ there, and the full comparison is a call to `memcmp`.
/// The rare escaped name is compared out of line, so that this stays small enough to inline
/// into the loops over names that call it.
#[inline]
pub(super) fn key_is(key: &str, esc: bool, name: &str) -> bool {
    if esc {
        escaped_key_is(key, name)
    } else {
        key.len() == name.len() && key.as_bytes().first() == name.as_bytes().first() && key == name
    }
}

/// [`key_is`] for a name with escapes.
#[cold]
#[inline(never)]
fn escaped_key_is(key: &str, name: &str) -> bool {
    decode(key, true, name.len() + 1) == name
}

/// Iterator over the children of a container.
pub(super) struct Children<'t, 'a> {
    tree: &'t Tree<'a>,
    next: usize,
    end: usize,
}

impl Iterator for Children<'_, '_> {
    type Item = usize;
    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.next >= self.end {
            return None;
        }
        let cur = self.next;
        let after = self
            .tree
            .nodes
            .get(cur)
            .map_or(self.end, |n| n.end as usize);
        // Always make progress, whatever the tape says.
        self.next = after.max(cur + 1);
        Some(cur)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_quote_or_backslash_is_position() {
        // Every length up to 40 and every placement of one or two targets among plain and
        // non-ASCII bytes (0xA2 and 0xDC differ from `"` and `\\` only in the high bit).
        let fills = [b'a', 0xA2, 0xDC, b'!', 0x00, 0xFF];
        for len in 0..40usize {
            for &fill in &fills {
                for first in 0..=len {
                    for (t1, t2) in [(b'"', b'\\'), (b'\\', b'"'), (b'"', b'"')] {
                        for second in [first + 1, first + 7, first + 8, first + 17, len] {
                            let mut v = vec![fill; len];
                            if let Some(c) = v.get_mut(first) {
                                *c = t1;
                            }
                            if let Some(c) = v.get_mut(second) {
                                *c = t2;
                            }
                            let want = v.iter().position(|&c| c == b'"' || c == b'\\');
                            assert_eq!(find_quote_or_backslash(&v), want, "{v:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn node_buffers_are_reused_and_never_shared() {
        let a_doc = r#"{"a":[1,2,{"b":"c"}]}"#;
        let b_doc = r#"["x",{"y":null}]"#;
        let (a, _) = parse(a_doc, 32).unwrap();
        // A second tree while the first is alive gets a buffer of its own.
        let (b, _) = parse(b_doc, 32).unwrap();
        assert_eq!(a.to_value(0), serde_json::from_str::<Value>(a_doc).unwrap());
        assert_eq!(b.to_value(0), serde_json::from_str::<Value>(b_doc).unwrap());
        let kept = b.nodes.as_ptr();
        drop(a);
        drop(b);
        // The buffer dropped last is kept, emptied, and the next parse starts from it (one
        // that fits in it: a larger document grows it).
        let (c, _) = parse(b_doc, 32).unwrap();
        assert_eq!(c.nodes.as_ptr(), kept);
        assert_eq!(c.to_value(0), serde_json::from_str::<Value>(b_doc).unwrap());
        drop(c);
        // A failed parse gives its buffer back too, and leaves nothing behind in it.
        assert!(parse(r#"{"a":[1,2,"#, 32).is_err());
        let (d, _) = parse("7", 32).unwrap();
        assert_eq!(d.nodes.len(), 1);
        assert_eq!(d.to_value(0), Value::from(7));
        drop(d);
        // Past the cap a buffer is not kept.
        let big = format!("[{}0]", "0,".repeat(MAX_SPARE_NODES * 12));
        let (e, _) = parse(&big, 32).unwrap();
        assert!(e.nodes.capacity() > MAX_SPARE_NODES);
        drop(e);
        assert!(SPARE_NODES.with(|s| {
            let v = s.take();
            let small = v.capacity() <= MAX_SPARE_NODES && v.is_empty();
            s.set(v);
            small
        }));
    }

    #[test]
    fn trims_as_str_trim_does() {
        let parts = [
            "",
            " ",
            "\t",
            "\n",
            "\r",
            "\x0b",
            "\x0c",
            "\x1f",
            "\u{85}",
            "\u{a0}",
            "\u{3000}",
            "x",
            "{}",
            "é",
            "\u{2028}",
            "a b",
            "         ",
            "\n        \t       ",
        ];
        for a in parts {
            for b in parts {
                for c in parts {
                    let s = format!("{a}{b}{c}{a}");
                    assert_eq!(trim(&s), s.trim(), "{s:?}");
                    assert_eq!(trim_start(&s), s.trim_start(), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn parses_and_navigates() {
        let src = r#" {"a": [1, 2, {"b": "x\ny"}], "c": null, "a": true} "#;
        let (t, end) = parse(src, 8).unwrap();
        assert_eq!(src.get(end..), Some(" "));
        let a = t.get(0, "a").unwrap();
        assert_eq!(t.boolean(a), Some(true), "last duplicate wins");
        let first_a = t.nth(0, 0).unwrap();
        assert_eq!(t.len(first_a), 3);
        let obj = t.nth(first_a, 2).unwrap();
        assert_eq!(
            t.text(t.get(obj, "b").unwrap(), 100).as_deref(),
            Some("x\ny")
        );
        assert_eq!(t.len(0), 3);
        let v = t.to_value(0);
        assert_eq!(v, serde_json::json!({"a": true, "c": null}));
    }

    #[test]
    fn failures() {
        assert_eq!(parse(r#"{"a": "#, 8).err(), Some(Fail::Eof));
        assert_eq!(parse(r#"{"a": 1"#, 8).err(), Some(Fail::Eof));
        assert_eq!(parse(r#"{"a": tr"#, 8).err(), Some(Fail::Eof));
        assert_eq!(parse(r#"{"a": 1,}"#, 8).err(), Some(Fail::Syntax));
        assert_eq!(parse(r#"{"a": x}"#, 8).err(), Some(Fail::Syntax));
        assert_eq!(parse(r#"{"a": "\q"}"#, 8).err(), Some(Fail::Syntax));
        assert_eq!(parse(r#"[[[]]]"#, 2).err(), Some(Fail::TooDeep));
        assert!(parse(r#"[[[]]]"#, 3).is_ok());
        assert_eq!(parse("", 3).err(), Some(Fail::Eof));
        assert_eq!(parse("-", 3).err(), Some(Fail::Eof));
        assert_eq!(parse("01", 3).map(|(_, e)| e).ok(), Some(1));
    }

    #[test]
    fn swar_search() {
        for s in [
            "",
            "abc",
            "abcdefgh",
            "abcdefgh\"",
            "\"",
            "abcdefg\\",
            "ab\"cdefghijk\\",
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\"x",
        ] {
            let want = s.bytes().position(|c| c == b'"' || c == b'\\');
            assert_eq!(find_quote_or_backslash(s.as_bytes()), want, "{s:?}");
        }
        // A byte just above the target must not match (0x23 after 0x22, 0x5d after 0x5c).
        assert_eq!(find_quote_or_backslash(b"########]]]]]]]]"), None);
    }

    /// The character-by-character decoder `decode` replaced, kept as the reference.
    fn decode_ref(raw: &str, esc: bool, max_chars: usize) -> Cow<'_, str> {
        if !esc {
            return Cow::Borrowed(cut_chars(raw, max_chars));
        }
        let mut out = String::with_capacity(raw.len().min(max_chars.saturating_mul(4)));
        let mut n = 0usize;
        let mut it = raw.char_indices();
        while let Some((i, c)) = it.next() {
            if n >= max_chars {
                break;
            }
            if c != '\\' {
                out.push(c);
                n += 1;
                continue;
            }
            let Some((_, e)) = it.next() else { break };
            let ch = match e {
                '"' => '"',
                '\\' => '\\',
                '/' => '/',
                'b' => '\u{8}',
                'f' => '\u{c}',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'u' => {
                    let hi = hex4(raw, i + 2);
                    // Skip the four hex digits.
                    for _ in 0..4 {
                        it.next();
                    }
                    match hi {
                        Some(h @ 0xD800..=0xDBFF) => {
                            // A high surrogate: a low one must follow as `\uDC00`..`\uDFFF`.
                            let lo = if raw.get(i + 6..i + 8) == Some("\\u") {
                                hex4(raw, i + 8).filter(|l| (0xDC00..=0xDFFF).contains(l))
                            } else {
                                None
                            };
                            match lo {
                                Some(l) => {
                                    for _ in 0..6 {
                                        it.next();
                                    }
                                    let cp = 0x10000 + ((h - 0xD800) << 10) + (l - 0xDC00);
                                    char::from_u32(cp).unwrap_or('\u{FFFD}')
                                }
                                None => '\u{FFFD}',
                            }
                        }
                        Some(cp) => char::from_u32(cp).unwrap_or('\u{FFFD}'),
                        None => '\u{FFFD}',
                    }
                }
                other => other,
            };
            out.push(ch);
            n += 1;
        }
        Cow::Owned(out)
    }

    #[test]
    fn decode_matches_reference() {
        let mut cases: Vec<String> = [
            r"a\u00e9\ud83d\ude00\ud800x",
            r"\\\/\b",
            r"a\nb",
            r"\",
            r"ab\",
            r"\u",
            r"\u12",
            r"\u+abcz",
            r"\ué1234",
            r"\ud83d\ude0",
            r"\ud83dx\ude00",
            r"\udc00",
            r"\ud83d\u+e00",
            "\\é",
            "\\😀x",
            "héllo\\nwörld\\t😀",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Pseudo-random strings over an alphabet dense in escapes.
        let alphabet = [
            '\\', 'u', 'd', '8', '3', 'D', 'c', '0', 'n', '"', 'é', '😀', 'a', '+', 'f',
        ];
        let mut x: u32 = 12345;
        for _ in 0..4000 {
            let mut s = String::new();
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            for _ in 0..(x >> 16) % 24 {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                s.push(alphabet[((x >> 16) as usize) % alphabet.len()]);
            }
            cases.push(s);
        }
        for s in &cases {
            for max in [0, 1, 2, 3, 5, 8, 13, usize::MAX] {
                assert_eq!(
                    decode(s, true, max),
                    decode_ref(s, true, max),
                    "{s:?} {max}"
                );
            }
        }
    }

    #[test]
    fn decoding() {
        assert_eq!(
            decode(r"a\u00e9\ud83d\ude00\ud800x", true, 100),
            "aé😀\u{FFFD}x"
        );
        assert_eq!(decode(r"\\\/\b", true, 100), "\\/\u{8}");
        assert_eq!(decode("héllo", false, 2), "hé");
        assert_eq!(decode(r"a\nb", true, 2), "a\n");
    }

    #[test]
    fn structure_and_salvage() {
        let s = structure(r#"{"a":"}]]","b":[[1]]}"#, 2);
        assert!(s.closes && s.too_deep);
        let s = structure(r#"{"a":"}]]","b":[1]"#, 8);
        assert!(!s.closes && !s.too_deep);
        let g =
            salvage(r#"{"x":"\"code\":\"no\"","error":{"code":"rate_limited","message":"Too many"#);
        assert_eq!(g.code.map(|c| c.0), Some("rate_limited"));
        assert!(g.message.is_none());
    }
}
