//! The loader's fast path: a direct parser for the block-style YAML that Helm renders.
//!
//! Why: the general parser (saphyr-parser, a complete YAML 1.2 event parser) was most of the
//! load time, and load was most of a render: a token queue, an event per node, and every plain
//! scalar built in its own growing `String`. Helm's output is a small, regular subset of YAML:
//! block mappings and sequences indented with spaces, plain and quoted scalars (wrapped over
//! lines too, as in CRD descriptions), literal and folded blocks, one-line flow sequences of
//! scalars, `{}`, comments. This module reads that subset in one pass over the bytes straight
//! into the tree, with one exact-size allocation per scalar and per collection.
//!
//! It is a fast path, never a second YAML dialect: whatever it does not read with certainty
//! (anchors, aliases, tags, merge keys, explicit keys, nested or multi-line flow collections,
//! tabs, control characters, directives or document markers, duplicate keys, keys over
//! [`MAX_KEY`] bytes, any error) makes it give up with `None` before anything is kept,
//! and the caller parses the text again with the general parser, which is the reference and
//! the one that reports errors. Both must build identical trees, lines included: tests check
//! that on every corpus file and on generated documents, and a fuzz target checks it on
//! arbitrary input.

use super::node::{Entry, Node, Scalar, Style, Value};
// A plain scalar may not start with one (the fast path does not read the few that may, like
// `-x` in keys or `:x`, and leaves them to the general parser).
use super::resolve::is_indicator;
use std::cell::Cell;
use std::collections::HashSet;

/// Deepest nesting the fast path follows; deeper documents go to the general parser (which
/// enforces the real limit). Keeps this recursive descent far from any stack limit.
const MAX_FAST_DEPTH: usize = 64;

/// Longest key the fast path reads (bytes); YAML's limit is 1024 characters, and no manifest
/// comes near either.
const MAX_KEY: usize = 512;

/// The fast path gave up: the text is outside the subset (or wrong); parse it in full. Holds
/// the line of this file that gave up (for [`why_not_fast`]).
struct Bail(u32);
type R<T> = Result<T, Bail>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// A mapping value (after `key:`).
    Map,
    /// A sequence item (after `- `).
    Seq,
}

/// Where an indicator with nothing after it on its line stands, for the position of an empty
/// value: its line, that line's start, and the `:` (after a key) or the first offset after the
/// `-`'s spaces (in a sequence).
#[derive(Clone, Copy)]
struct Empty {
    line: u32,
    line_start: usize,
    at: usize,
}

#[derive(Clone, Copy)]
enum Chomp {
    Clip,
    Strip,
    Keep,
}

/// Parse `text` when it lies in the fast subset: `Some(documents)` (at most one; none for a
/// text of only comments and blank lines), `None` when the general parser must decide.
pub fn parse_fast(text: &str) -> Option<Vec<Node>> {
    match parse_fast_within(text, usize::MAX) {
        Fast::Read(docs, _) => Some(docs),
        Fast::GaveUp | Fast::Full { .. } => None,
    }
}

/// What [`parse_fast_within`] did.
pub(crate) enum Fast {
    /// The documents and their node count.
    Read(Vec<Node>, usize),
    /// Outside the subset: the general parser decides.
    GaveUp,
    /// The text (as far as it was read) holds more nodes than the room: the budget is hit at
    /// this 1-based line.
    Full { line: u32 },
}

/// [`parse_fast`] building at most `room` nodes, counted as [`Node::size`] counts them (mapping
/// keys count), before they are built.
pub(crate) fn parse_fast_within(text: &str, room: usize) -> Fast {
    let Some(ascii) = plain_bytes(text.as_bytes()) else {
        return Fast::GaveUp;
    };
    let mut p = P::new(text, ascii);
    p.room = room;
    match p.stream() {
        Ok(docs) => Fast::Read(docs, p.nodes.get()),
        Err(_) if p.nodes.get() == usize::MAX => Fast::Full { line: p.line },
        Err(_) => Fast::GaveUp,
    }
}

/// Why the fast path leaves `text` to the general parser: `(input line, reason)`, or `None`
/// when it reads it. For tests and for whoever extends the subset.
#[doc(hidden)]
pub fn why_not_fast(text: &str) -> Option<(u32, String)> {
    let Some(ascii) = plain_bytes(text.as_bytes()) else {
        return Some((0, "a control character, tab or special Unicode line break".into()));
    };
    let mut p = P::new(text, ascii);
    match p.stream() {
        Ok(_) => None,
        Err(Bail(at)) => Some((p.line, format!("fast.rs:{at}"))),
    }
}

/// No byte that needs the general parser's judgement: control characters (tab included), DEL,
/// C1 controls and NEL, the Unicode line and paragraph separators, a BOM, U+FFFE/U+FFFF.
/// `Some(true)` for pure ASCII (columns are byte offsets then), `None` for such a byte.
fn plain_bytes(s: &[u8]) -> Option<bool> {
    let mut bad = false;
    let mut high = false;
    for chunk in s.chunks(256) {
        for &b in chunk {
            bad |= (b < 0x20) & (b != b'\n');
            bad |= b == 0x7f;
            high |= b >= 0x80;
        }
        if bad {
            return None;
        }
    }
    if !high {
        return Some(true);
    }
    // Only the lead bytes of the characters refused here are looked at (one SIMD scan for
    // them), not every byte of the text.
    for i in memchr::memchr3_iter(0xC2, 0xE2, 0xEF, s) {
        match s[i] {
            0xC2 if matches!(s.get(i + 1), Some(0x80..=0x9F)) => return None,
            0xE2 if s.get(i + 1) == Some(&0x80) && matches!(s.get(i + 2), Some(0xA8 | 0xA9)) => return None,
            0xEF if (s.get(i + 1) == Some(&0xBB) && s.get(i + 2) == Some(&0xBF))
                || (s.get(i + 1) == Some(&0xBF) && matches!(s.get(i + 2), Some(0xBE | 0xBF))) =>
            {
                return None
            }
            _ => {}
        }
    }
    Some(false)
}

/// The characters of UTF-8 `b` (a whole number of them): its bytes that are not continuation
/// bytes (`10xxxxxx`).
fn char_count(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c & 0xC0 != 0x80).count()
}

fn quote_style(q: u8) -> Style {
    if q == b'\'' {
        Style::SingleQuoted
    } else {
        Style::DoubleQuoted
    }
}

struct P<'a> {
    s: &'a [u8],
    text: &'a str,
    /// Byte offset of the start of the current line.
    pos: usize,
    /// 1-based number of the current line.
    line: u32,
    /// The text is pure ASCII: a column is a byte offset (else characters are counted).
    ascii: bool,
    /// Items of the open sequences (each takes its own slice when it closes).
    items: Vec<Node>,
    /// Entries of the open mappings.
    entries: Vec<Entry>,
    depth: usize,
    /// Nodes counted so far ([`Node::size`]'s way: mapping keys count) and how many may be.
    nodes: Cell<usize>,
    room: usize,
}

impl<'a> P<'a> {
    fn new(text: &'a str, ascii: bool) -> Self {
        P {
            s: text.as_bytes(),
            text,
            pos: 0,
            line: 1,
            ascii,
            items: Vec::new(),
            entries: Vec::new(),
            depth: 0,
            nodes: Cell::new(0),
            room: usize::MAX,
        }
    }

    /// The 1-based column of offset `i` on the current line, in characters (as saphyr counts).
    ///
    /// Bytes are characters in an ASCII text, and in an ASCII line prefix of any text: the
    /// characters are counted only when the prefix itself holds a non-ASCII byte (most lines of
    /// a text with some non-ASCII do not; the prefix is mostly indentation).
    #[inline]
    fn col(&self, i: usize) -> u32 {
        self.col_from(self.pos, i)
    }

    /// The 1-based column of offset `i` on the line that starts at `line_start`.
    #[inline]
    fn col_from(&self, line_start: usize, i: usize) -> u32 {
        if self.ascii {
            return (i - line_start) as u32 + 1;
        }
        let pre = &self.s[line_start..i];
        let w = if pre.is_ascii() { pre.len() } else { char_count(pre) };
        w as u32 + 1
    }

    /// Count `n` more nodes; beyond the room, stop (marked by a count of `usize::MAX`).
    #[inline]
    fn count(&self, n: usize) -> R<()> {
        let c = self.nodes.get().saturating_add(n);
        if c > self.room {
            self.nodes.set(usize::MAX);
            return Err(Bail(line!()));
        }
        self.nodes.set(c);
        Ok(())
    }

    /// Offset of the line break at or after `from` (or the end of the text).
    fn eol(&self, from: usize) -> usize {
        memchr::memchr(b'\n', &self.s[from..]).map_or(self.s.len(), |i| from + i)
    }

    /// The first offset at or after `from` that is not a space (the line break, or the end).
    fn skip_spaces(&self, from: usize) -> usize {
        from + self.s[from.min(self.s.len())..].iter().take_while(|&&c| c == b' ').count()
    }

    /// `end` moved back over the spaces before it, not past `start`.
    fn trim_spaces_end(&self, start: usize, end: usize) -> usize {
        end - self.s[start..end].iter().rev().take_while(|&&c| c == b' ').count()
    }

    fn next_line(&mut self) {
        let e = self.eol(self.pos);
        self.pos = (e + 1).min(self.s.len());
        self.line += 1;
    }

    /// Skip blank and comment lines: the indentation of the next content line (the cursor at
    /// its start), `None` at the end of the text.
    fn peek(&mut self) -> Option<usize> {
        let s = self.s;
        loop {
            if self.pos >= s.len() {
                return None;
            }
            let i = self.skip_spaces(self.pos);
            if i == s.len() {
                self.pos = i;
                return None;
            }
            match s[i] {
                b'\n' | b'#' => self.next_line(),
                _ => return Some(i - self.pos),
            }
        }
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_FAST_DEPTH {
            return Err(Bail(line!()));
        }
        Ok(())
    }

    fn is_seq_entry(&self, i: usize) -> bool {
        let s = self.s;
        s.get(i) == Some(&b'-') && matches!(s.get(i + 1), None | Some(b' ' | b'\n'))
    }

    /// `:` at `i` that ends an implicit key (followed by a space, a line break or the end).
    fn is_colon(&self, i: usize) -> bool {
        let s = self.s;
        s.get(i) == Some(&b':') && matches!(s.get(i + 1), None | Some(b' ' | b'\n'))
    }

    fn stream(&mut self) -> R<Vec<Node>> {
        let Some(n) = self.peek() else { return Ok(Vec::new()) };
        let i = self.pos + n;
        // Document markers (and directives) are the general parser's; elsewhere a column-0
        // `---`/`...` line cannot be a key, an entry or a continuation, so it ends up there too.
        if n == 0 && (self.s[i..].starts_with(b"---") || self.s[i..].starts_with(b"...")) {
            return Err(Bail(line!()));
        }
        // A root that is not a block sequence: a mapping, or a flow collection or scalar. Its
        // parent column is taken as its own (the real one is -1): stricter, never wrong.
        self.count(1)?;
        let root = if self.is_seq_entry(i) { self.seq(n, false)? } else { self.inline(n, i, Ctx::Seq)? };
        if self.peek().is_some() {
            return Err(Bail(line!()));
        }
        Ok(vec![root])
    }

    /// A block mapping whose entries sit at column `indent`; the first key starts at `i` on
    /// the current line (mid-line for a mapping that starts in a sequence item).
    fn map(&mut self, indent: usize, mut i: usize) -> R<Node> {
        self.enter()?;
        let (line, col) = (self.line, self.col(i));
        // The first key sits where the mapping does; the others at the indentation (spaces:
        // bytes are characters there).
        let mut key_col = col;
        let start = self.entries.len();
        // Duplicate keys go to the general parser (which names both lines); maps of 24 keys
        // and more (CRD property lists) check against a set instead of a scan.
        let mut seen: Option<HashSet<String>> = None;
        loop {
            self.count(2)?;
            let key_line = self.line;
            let (key, after) = self.key(i)?;
            if key.style == Style::Plain && key.text == "<<" {
                return Err(Bail(line!()));
            }
            let dup = match &mut seen {
                Some(set) => !set.insert(key.text.clone()),
                None => self.entries[start..].iter().any(|e| e.key.text == key.text),
            };
            if dup {
                return Err(Bail(line!()));
            }
            let value = self.value(indent, after, Ctx::Map)?;
            self.entries.push(Entry { key, key_line, key_col, value });
            if seen.is_none() && self.entries.len() - start >= 24 {
                seen = Some(self.entries[start..].iter().map(|e| e.key.text.clone()).collect());
            }
            match self.peek() {
                Some(k) if k == indent => {
                    i = self.pos + k;
                    key_col = k as u32 + 1;
                    if self.is_seq_entry(i) {
                        return Err(Bail(line!()));
                    }
                }
                Some(k) if k < indent => break,
                None => break,
                Some(_) => return Err(Bail(line!())),
            }
        }
        let entries: Vec<Entry> = crate::limits::take_tail(&mut self.entries, start);
        self.depth -= 1;
        Ok(Node { value: Value::Map(entries), line, col })
    }

    /// The key at `i` and the offset just past its `:`. Keys longer than [`MAX_KEY`] bytes
    /// go to the general parser (YAML caps implicit keys at 1024 characters).
    fn key(&mut self, i: usize) -> R<(Scalar, usize)> {
        let (k, j) = self.key_inner(i)?;
        if j - i > MAX_KEY {
            return Err(Bail(line!()));
        }
        Ok((k, j))
    }

    fn key_inner(&mut self, i: usize) -> R<(Scalar, usize)> {
        let s = self.s;
        match s.get(i) {
            Some(b'"' | b'\'') => {
                let (k, j) = self.quoted(i)?;
                if self.is_colon(j) {
                    Ok((k, j + 1))
                } else {
                    Err(Bail(line!()))
                }
            }
            Some(&c) if !is_indicator(c) => {
                let e = self.eol(i);
                let mut j = i;
                while j < e {
                    match s[j] {
                        b':' if j + 1 == e || s[j + 1] == b' ' => break,
                        b'#' if s[j - 1] == b' ' => return Err(Bail(line!())),
                        _ => j += 1,
                    }
                }
                if j == e || s[j - 1] == b' ' {
                    return Err(Bail(line!()));
                }
                Ok((Scalar { text: self.text[i..j].to_owned(), style: Style::Plain, tag: None }, j + 1))
            }
            _ => Err(Bail(line!())),
        }
    }

    /// The node after a `:` or `-` indicator ending at `j` (exclusive) whose parent sits at
    /// column `n`.
    fn value(&mut self, n: usize, j: usize, ctx: Ctx) -> R<Node> {
        let s = self.s;
        let i = self.skip_spaces(j);
        let line = self.line;
        if i == s.len() || s[i] == b'\n' || s[i] == b'#' {
            // `#` here always follows a space: the indicator required one. Where saphyr puts
            // an empty value: on a key's `:`, or at the end of a `-` entry's line (its column
            // is counted only when the value is empty, not for a collection below).
            let at = Empty { line, line_start: self.pos, at: if ctx == Ctx::Map { j - 1 } else { i } };
            self.next_line();
            return self.nested(n, ctx, at);
        }
        self.inline(n, i, ctx)
    }

    /// The node starting at `i` on the current line (not at its end), inside a parent at
    /// column `n`. In `Ctx::Seq` a key here starts a compact mapping at column `i`.
    fn inline(&mut self, n: usize, i: usize, ctx: Ctx) -> R<Node> {
        let s = self.s;
        let line = self.line;
        match s[i] {
            b'|' | b'>' => self.block_scalar(n, i, ctx),
            b'"' | b'\'' => {
                let col = self.col(i);
                let (sc, k, multi) = self.quoted_multi(n, i)?;
                if self.is_colon(k) {
                    return if ctx == Ctx::Seq && !multi { self.map(i - self.pos, i) } else { Err(Bail(line!())) };
                }
                self.end_of_line(k)?;
                Ok(Node { value: Value::Scalar(sc), line, col })
            }
            b'[' | b'{' => {
                let (node, k) = self.flow(i)?;
                self.end_of_line(k)?;
                Ok(node)
            }
            b'-' if ctx == Ctx::Seq && self.is_seq_entry(i) => self.seq(i - self.pos, false),
            // `-x` is plain; a `- ` entry here (after a key) is an error.
            c if is_indicator(c) && (c != b'-' || self.is_seq_entry(i)) => Err(Bail(line!())),
            _ => {
                let e = self.eol(i);
                let mut k = i;
                let mut end = e;
                let mut comment = false;
                while k < e {
                    match s[k] {
                        b':' if k + 1 == e || s[k + 1] == b' ' => {
                            return if ctx == Ctx::Seq { self.map(i - self.pos, i) } else { Err(Bail(line!())) };
                        }
                        b'#' if s[k - 1] == b' ' => {
                            end = k;
                            comment = true;
                            break;
                        }
                        _ => k += 1,
                    }
                }
                let end = self.trim_spaces_end(i, end);
                let first = &self.text[i..end];
                let col = self.col(i);
                self.next_line();
                let text = if comment { first.to_owned() } else { self.plain_continuation(n, first)? };
                Ok(Node { value: Value::Scalar(Scalar { text, style: Style::Plain, tag: None }), line, col })
            }
        }
    }

    /// The rest of a plain scalar whose first line was `first`: continuation lines deeper than
    /// the parent's column `n` fold into it (a line break becomes a space, `k` blank lines
    /// become `k` line breaks). Ends at a shallower line, a comment line or the end.
    fn plain_continuation(&mut self, n: usize, first: &str) -> R<String> {
        let s = self.s;
        let mut out: Option<String> = None;
        let mut empties = 0usize;
        while self.pos < s.len() {
            let ls = self.pos;
            let sp = self.skip_spaces(ls);
            if sp == s.len() {
                break;
            }
            if s[sp] == b'\n' {
                empties += 1;
                self.next_line();
                continue;
            }
            if sp - ls <= n || s[sp] == b'#' {
                break;
            }
            // A continuation may start with most indicators; `#` (a comment) ended it above,
            // and `- `, `? `, `: ` are left to the general parser.
            if matches!(s[sp], b'-' | b'?' | b':') && matches!(s.get(sp + 1), None | Some(b' ' | b'\n')) {
                return Err(Bail(line!()));
            }
            let e = self.eol(sp);
            for k in sp..e {
                match s[k] {
                    b':' if k + 1 == e || s[k + 1] == b' ' => return Err(Bail(line!())),
                    b'#' if s[k - 1] == b' ' => return Err(Bail(line!())),
                    _ => {}
                }
            }
            let end = self.trim_spaces_end(sp, e);
            let o = out.get_or_insert_with(|| first.to_owned());
            if empties == 0 {
                o.push(' ');
            }
            for _ in 0..empties {
                o.push('\n');
            }
            o.push_str(&self.text[sp..end]);
            empties = 0;
            self.next_line();
        }
        Ok(out.unwrap_or_else(|| first.to_owned()))
    }

    /// The value of an indicator with nothing after it on its line: a block collection on the
    /// next lines, or an empty (null) scalar.
    fn nested(&mut self, n: usize, ctx: Ctx, at: Empty) -> R<Node> {
        match self.peek() {
            Some(k) if k > n => {
                let i = self.pos + k;
                if self.is_seq_entry(i) {
                    self.seq(k, false)
                } else {
                    self.inline(n, i, Ctx::Seq)
                }
            }
            Some(k) if k == n && ctx == Ctx::Map && self.is_seq_entry(self.pos + k) => self.seq(k, true),
            _ => {
                // On the `:` itself; after a `-`, at the end of its line.
                let off = if ctx == Ctx::Map { at.at } else { self.eol(at.at) };
                let col = self.col_from(at.line_start, off);
                Ok(Node { value: Value::Scalar(Scalar::default()), line: at.line, col })
            }
        }
    }

    /// A block sequence whose `-` sit at column `n`, the first on the current line;
    /// `indentless` when it sits at its parent mapping's column (`key:` then `- x` below it).
    fn seq(&mut self, n: usize, indentless: bool) -> R<Node> {
        self.enter()?;
        let line = self.line;
        // saphyr puts a sequence on its first `-`, but an indentless one on what follows that
        // `-` (the end of its line when nothing but a comment does).
        let col = if indentless {
            let j = self.skip_spaces(self.pos + n + 1);
            let s = self.s;
            self.col(if j == s.len() || s[j] == b'\n' || s[j] == b'#' { self.eol(j) } else { j })
        } else {
            self.col(self.pos + n)
        };
        let start = self.items.len();
        loop {
            self.count(1)?;
            let i = self.pos + n;
            let item = self.value(n, i + 1, Ctx::Seq)?;
            self.items.push(item);
            match self.peek() {
                Some(k) if k == n && self.is_seq_entry(self.pos + n) => {}
                Some(k) if k <= n => break,
                None => break,
                Some(_) => return Err(Bail(line!())),
            }
        }
        let items: Vec<Node> = crate::limits::take_tail(&mut self.items, start);
        self.depth -= 1;
        Ok(Node { value: Value::Seq(items), line, col })
    }

    /// After a scalar or flow collection ending at `k`: only spaces and a comment may follow
    /// on the line. Moves to the next line.
    fn end_of_line(&mut self, k: usize) -> R<()> {
        let s = self.s;
        let i = self.skip_spaces(k);
        if i == s.len() || s[i] == b'\n' || (s[i] == b'#' && i > k) {
            self.next_line();
            Ok(())
        } else {
            Err(Bail(line!()))
        }
    }

    /// A one-line quoted scalar starting at `i`; the offset past its closing quote.
    fn quoted(&self, i: usize) -> R<(Scalar, usize)> {
        let e = self.eol(i);
        let mut out = String::new();
        match self.quoted_line(self.s[i], i + 1, e, &mut out)? {
            Some(q) => Ok((Scalar { text: out, style: quote_style(self.s[i]), tag: None }, q + 1)),
            None => Err(Bail(line!())),
        }
    }

    /// A quoted scalar starting at `i` that may go on over the next lines (all deeper than the
    /// parent's column `n`): line breaks fold as in plain scalars, lines are trimmed. Leaves the
    /// cursor on the closing quote's line; returns the offset past that quote and whether the
    /// scalar spanned lines.
    fn quoted_multi(&mut self, n: usize, i: usize) -> R<(Scalar, usize, bool)> {
        let s = self.s;
        let quote = s[i];
        let mut out = String::new();
        let mut from = i + 1;
        let mut multi = false;
        loop {
            let e = self.eol(from);
            if let Some(q) = self.quoted_line(quote, from, e, &mut out)? {
                return Ok((Scalar { text: out, style: quote_style(quote), tag: None }, q + 1, multi));
            }
            // No closing quote on this line: drop the line's trailing spaces (the raw ones; an
            // escaped space before the break is left to the general parser).
            let mut trimmed = 0;
            while out.ends_with(' ') && e - trimmed > from && s[e - trimmed - 1] == b' ' {
                out.pop();
                trimmed += 1;
            }
            if e - trimmed > from && s[e - trimmed - 1] == b'\\' || e == s.len() {
                return Err(Bail(line!()));
            }
            multi = true;
            self.next_line();
            let mut empties = 0;
            loop {
                let ls = self.pos;
                let sp = self.skip_spaces(ls);
                if sp == s.len() {
                    return Err(Bail(line!()));
                }
                if s[sp] == b'\n' {
                    empties += 1;
                    self.next_line();
                    continue;
                }
                if sp - ls <= n {
                    return Err(Bail(line!()));
                }
                if empties == 0 {
                    out.push(' ');
                }
                for _ in 0..empties {
                    out.push('\n');
                }
                from = sp;
                break;
            }
        }
    }

    /// Scan one line of a quoted scalar from `from` to `e`, unescaping into `out`: the offset
    /// of the closing quote, or `None` when the line ends first.
    fn quoted_line(&self, quote: u8, from: usize, e: usize, out: &mut String) -> R<Option<usize>> {
        let (s, t) = (self.s, self.text);
        let mut k = from;
        if quote == b'\'' {
            loop {
                let Some(rel) = s[k..e].iter().position(|&c| c == b'\'') else {
                    out.push_str(&t[k..e]);
                    return Ok(None);
                };
                let q = k + rel;
                if q + 1 < e && s[q + 1] == b'\'' {
                    out.push_str(&t[k..=q]);
                    k = q + 2;
                    continue;
                }
                out.push_str(&t[k..q]);
                return Ok(Some(q));
            }
        }
        loop {
            let Some(rel) = s[k..e].iter().position(|&c| c == b'"' || c == b'\\') else {
                out.push_str(&t[k..e]);
                return Ok(None);
            };
            let q = k + rel;
            out.push_str(&t[k..q]);
            if s[q] == b'"' {
                return Ok(Some(q));
            }
            let Some(&c) = s.get(q + 1).filter(|_| q + 1 < e) else { return Err(Bail(line!())) };
            let mut next = q + 2;
            let ch = match c {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b' ' => ' ',
                b'n' => '\n',
                b't' => '\t',
                b'r' => '\r',
                b'0' => '\0',
                b'a' => '\u{7}',
                b'b' => '\u{8}',
                b'e' => '\u{1b}',
                b'f' => '\u{c}',
                b'v' => '\u{b}',
                b'N' => '\u{85}',
                b'_' => '\u{a0}',
                b'L' => '\u{2028}',
                b'P' => '\u{2029}',
                b'x' | b'u' | b'U' => {
                    let len = match c {
                        b'x' => 2,
                        b'u' => 4,
                        _ => 8,
                    };
                    let hex = s.get(q + 2..q + 2 + len).filter(|_| q + 2 + len <= e).ok_or(Bail(line!()))?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return Err(Bail(line!()));
                    }
                    let v = u32::from_str_radix(&t[q + 2..q + 2 + len], 16).map_err(|_| Bail(line!()))?;
                    next = q + 2 + len;
                    char::from_u32(v).ok_or(Bail(line!()))?
                }
                _ => return Err(Bail(line!())),
            };
            out.push(ch);
            k = next;
        }
    }

    /// A one-line flow collection at `i`: `{}`, or a sequence of plain and quoted scalars.
    fn flow(&self, i: usize) -> R<(Node, usize)> {
        let s = self.s;
        let (line, col) = (self.line, self.col(i));
        let e = self.eol(i);
        let mut k = self.skip_spaces(i + 1);
        if s[i] == b'{' {
            return if k < e && s[k] == b'}' {
                Ok((Node { value: Value::Map(Vec::new()), line, col }, k + 1))
            } else {
                Err(Bail(line!()))
            };
        }
        let mut items = Vec::new();
        if k < e && s[k] == b']' {
            return Ok((Node { value: Value::Seq(items), line, col }, k + 1));
        }
        loop {
            if k >= e {
                return Err(Bail(line!()));
            }
            let item_col = self.col(k);
            let sc = match s[k] {
                b'"' | b'\'' => {
                    let (sc, k2) = self.quoted(k)?;
                    k = k2;
                    sc
                }
                c if is_indicator(c) && !(c == b'-' && k + 1 < e && !b" ,[]{}".contains(&s[k + 1])) => {
                    return Err(Bail(line!()))
                }
                _ => {
                    let st = k;
                    while k < e {
                        match s[k] {
                            b',' | b']' => break,
                            b'[' | b'{' | b'}' | b':' => return Err(Bail(line!())),
                            b'#' if s[k - 1] == b' ' => return Err(Bail(line!())),
                            _ => k += 1,
                        }
                    }
                    let end = self.trim_spaces_end(st, k);
                    // One word per item (`[get, list]`, `["--a", -b]`): a space inside is left to
                    // the general parser, whose reading of `[a -]` differs from the spec's
                    // (found by the fast_path fuzz target).
                    if s[st..end].contains(&b' ') {
                        return Err(Bail(line!()));
                    }
                    Scalar { text: self.text[st..end].to_owned(), style: Style::Plain, tag: None }
                }
            };
            self.count(1)?;
            items.push(Node { value: Value::Scalar(sc), line, col: item_col });
            k = self.skip_spaces(k);
            if k < e && s[k] == b',' {
                k = self.skip_spaces(k + 1);
                if k < e && s[k] == b']' {
                    k += 1;
                    break;
                }
                continue;
            }
            if k < e && s[k] == b']' {
                k += 1;
                break;
            }
            return Err(Bail(line!()));
        }
        Ok((Node { value: Value::Seq(items), line, col }, k))
    }

    /// A literal (`|`) or folded (`>`) block scalar whose header is at `i`, inside a parent at
    /// column `n`. Explicit indentation indicators, more-indented folded lines, lines of only
    /// spaces deeper than the content, and a block without content go to the general parser.
    fn block_scalar(&mut self, n: usize, i: usize, ctx: Ctx) -> R<Node> {
        let (s, t) = (self.s, self.text);
        let folded = s[i] == b'>';
        let mut k = i + 1;
        // Header: chomping (`-`, `+`) and an explicit indentation (1-9), in either order.
        let mut chomp = Chomp::Clip;
        let mut explicit = None;
        for _ in 0..2 {
            match s.get(k) {
                Some(b'-') if matches!(chomp, Chomp::Clip) => chomp = Chomp::Strip,
                Some(b'+') if matches!(chomp, Chomp::Clip) => chomp = Chomp::Keep,
                Some(&d @ b'1'..=b'9') if explicit.is_none() => explicit = Some(usize::from(d - b'0')),
                _ => break,
            }
            k += 1;
        }
        if s.get(k).is_some_and(u8::is_ascii_digit) {
            return Err(Bail(line!()));
        }
        // An explicit indentation counts from the parent's column: read here only after a
        // `key:` on the same line, where that column is the mapping's (and the general parser
        // agrees; a root block with one was read differently, found by the fast_path fuzz target).
        if explicit.is_some() && ctx != Ctx::Map {
            return Err(Bail(line!()));
        }
        self.end_of_line(k)?;
        // The content indentation: explicit (the parent's column plus the indicator), else that
        // of the first non-blank line. The general parser gives the scalar that line's number.
        let mut q = self.pos;
        let mut line = self.line;
        let mut deepest_blank = 0;
        let first = loop {
            let sp = self.skip_spaces(q);
            if sp == s.len() {
                return Err(Bail(line!()));
            }
            if s[sp] == b'\n' {
                deepest_blank = deepest_blank.max(sp - q);
                q = sp + 1;
                line += 1;
                continue;
            }
            break sp - q;
        };
        let indent = explicit.map_or(first, |m| n + m);
        if indent <= n || first < indent || deepest_blank > indent {
            return Err(Bail(line!()));
        }
        let mut out = String::new();
        let mut empties = 0usize;
        let mut any = false;
        while self.pos < s.len() {
            let ls = self.pos;
            let e = self.eol(ls);
            let sp = self.skip_spaces(ls);
            let k = sp - ls;
            if sp == e {
                if k > indent || e == s.len() {
                    return Err(Bail(line!()));
                }
                empties += 1;
                self.next_line();
                continue;
            }
            if k < indent {
                break;
            }
            if e == s.len() || (folded && k > indent) {
                return Err(Bail(line!()));
            }
            if folded && any && empties == 0 {
                out.push(' ');
            }
            for _ in 0..empties {
                out.push('\n');
            }
            out.push_str(&t[ls + indent..e]);
            if !folded {
                out.push('\n');
            }
            any = true;
            empties = 0;
            self.next_line();
        }
        match (folded, chomp) {
            (false, Chomp::Clip) => {}
            (false, Chomp::Strip) => {
                out.pop();
            }
            (false, Chomp::Keep) => out.extend(std::iter::repeat_n('\n', empties)),
            (true, Chomp::Clip) => out.push('\n'),
            (true, Chomp::Strip) => {}
            (true, Chomp::Keep) => out.extend(std::iter::repeat_n('\n', empties + 1)),
        }
        let style = if folded { Style::Folded } else { Style::Literal };
        // saphyr puts a block scalar at its first content line, at the content's indentation.
        Ok(Node { value: Value::Scalar(Scalar { text: out, style, tag: None }), line, col: indent as u32 + 1 })
    }
}
