//! Text that a script or an API caller controls, made safe to print on the operator's terminal.
//!
//! A script's stdout and stderr, its exception's type, message and traceback, the details of
//! the violations its runner reports, its result, the file name it was given: all of it is
//! printed by jailctl, and a terminal acts on some of what it is sent. An escape sequence can
//! write the clipboard (OSC 52), retitle the window, move the cursor or erase the screen; a
//! carriage return, a backspace or an erase hides what came before on the line. In text output
//! jailctl shows these characters as escapes instead; `--json` prints the API's JSON as it is
//! (its C0 controls are JSON escapes already; it is for programs).
//!
//! What is escaped ([`escaped`]):
//! - every C0 control (U+0000-U+001F) except newline and tab, and DEL (U+007F): ESC starts
//!   every sequence, BEL ends OSC, CR, BS and the rest move the cursor or are read as commands;
//! - the C1 controls U+0080-U+009F: CSI (U+009B), OSC (U+009D), ST (U+009C) are the 8-bit
//!   forms of the sequences above, and some terminals act on them even in UTF-8;
//! - the bidi embeddings, overrides and isolates U+202A-U+202E and U+2066-U+2069 ("Trojan
//!   Source", CVE-2021-42574): terminals that lay out bidirectional text (VTE, Konsole, mlterm)
//!   show the characters after them in an order other than the one they have, so
//!   `\u{202e}txt.exe` reads as "exe.txt". The marks U+200E, U+200F and U+061C are left alone:
//!   they are strong characters like any Hebrew or Arabic letter (which a script can print
//!   anyway) and reorder no more than one does.
//! - In [`Layout::Line`] (a table cell, an id, an exception's type: a field shown on one line)
//!   newline and tab too, so that a value cannot start a line of its own or push the columns.
//!
//! How: below U+0080 as `\xHH`, above as `\u{H}` (lower-case hex; `\x1b`, `\x0d`, `\u{9b}`,
//! `\u{202e}`), the forms Rust and Python use. Two forms only, so that a backslash in the text
//! needs doubling only where it would read as one of them: before `x`, before `u{`, and before
//! a character that is shown escaped. Everywhere else it is shown as it is, so the `\n`, `\"`,
//! `\u00e9` and `\d+` that scripts print (reprs, JSON, regular expressions) stay as printed,
//! while a script printing the text `\x1b` is shown `\\x1b`, not as if it had written ESC.
//! Read back: an odd run of backslashes before `x` or `u{` ends in an escape, the rest of the
//! run (and an even run) stands for half as many backslashes; any other backslash is itself.
//!
//! A stream ([`Stream`]: `jailctl logs -f`) comes in chunks. jaild never splits a UTF-8
//! character across two (openapi/jaild.yaml, /events), and each character is escaped on its
//! own, so an escape sequence cut in two is escaped the same as a whole one; only the
//! backslashes at the end of a chunk wait for the next one, which decides whether they double.

use serde_json::Value;
use std::borrow::Cow;
use std::fmt::Write;

/// Where a text is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Lines of their own (a script's stdout and stderr, a traceback, a message): newlines and
    /// tabs are printed as they are.
    Text,
    /// One field on one line: newlines and tabs are escaped too.
    Line,
}

/// Whether `c` is shown escaped.
fn escaped(c: char, layout: Layout) -> bool {
    match c {
        '\n' | '\t' => layout == Layout::Line,
        '\0'..='\x1f' | '\x7f' | '\u{80}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

/// Whether backslashes followed by `rest` would read as the start of an escape: None when
/// `rest` is too short to tell (a stream's next chunk decides).
fn reads_as_escape(rest: &str, layout: Layout) -> Option<bool> {
    let mut chars = rest.chars();
    match chars.next()? {
        'x' => Some(true),
        'u' => chars.next().map(|c| c == '{'),
        c => Some(escaped(c, layout)),
    }
}

/// Appends the rendering of `text` to `out`: the one place the escaping is done. `end`: nothing
/// follows `text` (or what follows is jailctl's own, never a backslash, `x`, `u{` or a control
/// character); otherwise a trailing run of backslashes, perhaps followed by `u`, whose rendering
/// depends on what comes next is left out. Returns how many bytes of `text` were rendered.
fn render(text: &str, layout: Layout, end: bool, out: &mut String) -> usize {
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        if c == '\\' {
            let run = text[i..].bytes().take_while(|&b| b == b'\\').count();
            let double = match reads_as_escape(&text[i + run..], layout) {
                Some(double) => double,
                None if end => false,
                None => return i,
            };
            let shown = if double { 2 * run } else { run };
            out.extend(std::iter::repeat_n('\\', shown));
            i += run;
            continue;
        }
        if !escaped(c, layout) {
            out.push(c);
        } else if c.is_ascii() {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        i += c.len_utf8();
    }
    i
}

/// `text` as it can be printed: as it is when nothing in it needs escaping.
pub fn escape(text: &str, layout: Layout) -> Cow<'_, str> {
    if !text.chars().any(|c| c == '\\' || escaped(c, layout)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    render(text, layout, true, &mut out);
    Cow::Owned(out)
}

/// [`escape`] for lines of their own ([`Layout::Text`]).
pub fn text(text: &str) -> Cow<'_, str> {
    escape(text, Layout::Text)
}

/// [`escape`] for a field on one line ([`Layout::Line`]).
pub fn line(text: &str) -> Cow<'_, str> {
    escape(text, Layout::Line)
}

/// A JSON value (a script's result) as compact JSON text that is safe to print and still
/// JSON: what serde_json leaves raw in strings (DEL, C1, bidi controls) becomes a `\uXXXX`
/// escape, so the text reads back as the same value. JSON's own escapes keep JSON's meaning.
pub fn json(value: &Value) -> String {
    let compact = value.to_string();
    if !compact.chars().any(|c| escaped(c, Layout::Line)) {
        return compact;
    }
    let mut out = String::with_capacity(compact.len() + 16);
    for c in compact.chars() {
        // Outside strings JSON text is printable ASCII: every such character is in a string,
        // where the escape stands for it. All of them are in the Basic Multilingual Plane.
        if escaped(c, Layout::Line) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// A text that comes in chunks (a run's stdout or stderr, followed): each chunk's rendering as
/// it comes, the same in total as [`text`] of the whole.
#[derive(Debug, Default)]
pub struct Stream {
    /// The end of the last chunk whose rendering waits for the next: empty, a run of
    /// backslashes, or one followed by `u`.
    held: String,
}

impl Stream {
    /// The rendering of `chunk`, as far as it is decided.
    pub fn push(&mut self, chunk: &str) -> String {
        // A long run of backslashes, a chunk at a time: held, not scanned again per chunk.
        if !self.held.ends_with('u') && chunk.bytes().all(|b| b == b'\\') {
            self.held.push_str(chunk);
            return String::new();
        }
        let mut out = String::with_capacity(chunk.len() + self.held.len());
        self.held.push_str(chunk);
        let done = render(&self.held, Layout::Text, false, &mut out);
        self.held.drain(..done);
        out
    }

    /// The rendering of what is held, at the end of the stream.
    pub fn finish(&mut self) -> String {
        let mut out = String::new();
        render(&self.held, Layout::Text, true, &mut out);
        self.held.clear();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> String {
        text(s).into_owned()
    }

    fn l(s: &str) -> String {
        line(s).into_owned()
    }

    /// Reads a rendering back (the rule in the module's documentation), to prove it unambiguous.
    fn unescape(s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(c) = rest.chars().next() {
            if c != '\\' {
                out.push(c);
                rest = &rest[c.len_utf8()..];
                continue;
            }
            let run = rest.bytes().take_while(|&b| b == b'\\').count();
            let after = &rest[run..];
            let escape = after.starts_with('x') || after.starts_with("u{");
            if !escape {
                out.extend(std::iter::repeat_n('\\', run));
                rest = after;
                continue;
            }
            out.extend(std::iter::repeat_n('\\', run / 2));
            if run % 2 == 0 {
                rest = after;
                continue;
            }
            let (code, len) = if let Some(hex) = after.strip_prefix('x') {
                (u32::from_str_radix(&hex[..2], 16).unwrap_or_else(|e| panic!("{s:?}: {e}")), 3)
            } else {
                let close = after.find('}').unwrap_or_else(|| panic!("{s:?}: unclosed \\u{{"));
                (u32::from_str_radix(&after[2..close], 16).unwrap_or_else(|e| panic!("{s:?}: {e}")), close + 1)
            };
            out.push(char::from_u32(code).unwrap_or_else(|| panic!("{s:?}: {code:x}")));
            rest = &after[len..];
        }
        out
    }

    fn no_raw_controls(s: &str, layout: Layout) {
        assert!(!s.chars().any(|c| escaped(c, layout)), "raw control characters in {s:?}");
    }

    #[test]
    fn plain_text_and_newlines_are_unchanged() {
        for s in [
            "",
            "hello, world\n",
            "a\tb\nc\n\n",
            "fib(30) has 6 digits",
            "naïve café — ok ✓ 日本語 🦀",
            "\u{fffd}\u{fffd}",
        ] {
            assert!(matches!(text(s), Cow::Borrowed(_)), "{s:?} was copied");
            assert_eq!(t(s), s);
        }
        // Backslashes that read as no escape are shown as they are: reprs, JSON, regexes.
        for s in
            [r"C:\temp", r#"{"a": "\u00e9\n\"q\""}"#, r"'a\r\nb'", r"\d+\s*", r"\\", "ends with \\", r"\u", r"\u0041"]
        {
            assert_eq!(t(s), s);
        }
    }

    #[test]
    fn osc_52_with_bel_and_st_terminators() {
        assert_eq!(t("\x1b]52;c;aGFja2Vk\x07"), r"\x1b]52;c;aGFja2Vk\x07");
        // ST is ESC \: the backslash follows an escape, not a backslash, and is itself.
        assert_eq!(t("\x1b]52;c;aGFja2Vk\x1b\\"), r"\x1b]52;c;aGFja2Vk\x1b\");
        assert_eq!(t("\x1b]52;c;aGFja2Vk\x1b\\ next"), r"\x1b]52;c;aGFja2Vk\x1b\ next");
        // The 8-bit forms: OSC U+009D ... ST U+009C.
        assert_eq!(t("\u{9d}52;c;aGk=\u{9c}"), r"\u{9d}52;c;aGk=\u{9c}");
    }

    #[test]
    fn csi_and_c1_csi() {
        assert_eq!(t("\x1b[2J\x1b[H\x1b[1A\x1b[2K"), r"\x1b[2J\x1b[H\x1b[1A\x1b[2K");
        assert_eq!(t("\u{9b}2J\u{9b}31m"), r"\u{9b}2J\u{9b}31m");
        assert_eq!(t("\x1b]0;title\x07"), r"\x1b]0;title\x07");
    }

    #[test]
    fn every_control_but_newline_and_tab_is_escaped() {
        assert_eq!(t("\0\x01\x07\x08\x0b\x0c\r\x1f\x7f"), r"\x00\x01\x07\x08\x0b\x0c\x0d\x1f\x7f");
        assert_eq!(t("ok\rHIDDEN\r\n"), "ok\\x0dHIDDEN\\x0d\n");
        assert_eq!(t("\u{80}\u{85}\u{9f}\u{a0}"), "\\u{80}\\u{85}\\u{9f}\u{a0}");
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            let s = c.to_string();
            let shown = t(&s);
            let controlish = (c < ' ' && c != '\n' && c != '\t') || ('\u{7f}'..='\u{9f}').contains(&c);
            let bidi = ('\u{202a}'..='\u{202e}').contains(&c) || ('\u{2066}'..='\u{2069}').contains(&c);
            assert_eq!(shown != s, controlish || bidi, "{c:?} shown as {shown:?}");
            no_raw_controls(&shown, Layout::Text);
            assert_eq!(unescape(&shown), s);
        }
    }

    #[test]
    fn bidi_overrides_and_isolates_are_escaped_marks_are_not() {
        assert_eq!(t("\u{202e}txt.exe\u{202c}"), r"\u{202e}txt.exe\u{202c}");
        assert_eq!(t("\u{2066}\u{2067}\u{2068}x\u{2069}"), r"\u{2066}\u{2067}\u{2068}x\u{2069}");
        assert_eq!(t("\u{200e}\u{200f}\u{61c}"), "\u{200e}\u{200f}\u{61c}");
    }

    #[test]
    fn line_layout_escapes_newlines_and_tabs() {
        assert_eq!(l("a\nstatus:  ok\tx"), r"a\x0astatus:  ok\x09x");
        assert_eq!(l("socket.\x1b[2J"), r"socket.\x1b[2J");
        // In a line a backslash before a newline would read as the newline's escape.
        assert_eq!(l("a\\\n"), r"a\\\x0a");
        assert_eq!(t("a\\\n"), "a\\\n");
    }

    #[test]
    fn backslashes_double_only_where_they_would_read_as_an_escape() {
        assert_eq!(t(r"\x1b"), r"\\x1b");
        assert_eq!(t(r"\u{1b}"), r"\\u{1b}");
        assert_eq!(t(r"\\x1b"), r"\\\\x1b");
        assert_eq!(t("\\\x1b"), r"\\\x1b");
        assert_eq!(t("\\\\\x1b"), r"\\\\\x1b");
        assert_eq!(t(r"\xyz \ufoo \u{"), r"\\xyz \ufoo \\u{");
        for s in [r"\x1b", r"\\x1b", "\\\x1b", "\\\\\\\x1b[2J\\", r"a\\\u{9b}", "\\u\\", "\\\\u{", "x\\"] {
            assert_eq!(unescape(&t(s)), s, "{s:?} shown as {:?}", t(s));
            assert_eq!(unescape(&l(s)), s, "{s:?} shown as {:?}", l(s));
        }
    }

    #[test]
    fn invalid_utf8_already_replaced_is_shown_as_it_is() {
        // jaild and the supervisor replace invalid bytes with U+FFFD: a lone 0x9b byte is no
        // longer a C1 CSI, only the replacement character.
        let s = String::from_utf8_lossy(b"a\x9b2J\xc2 \xe2\x82 \x1b[0m");
        assert_eq!(t(&s), "a\u{fffd}2J\u{fffd} \u{fffd} \\x1b[0m");
    }

    /// Every way of cutting a text into two or three chunks renders as the whole does.
    #[test]
    fn split_chunks_render_as_the_whole() {
        let samples = [
            "a\x1b]52;c;aGk=\x07b",
            "x\x1b]52;c;aGk=\x1b\\y",
            "\\x1b and \\\\u{9b} and \\\x1b",
            "é\u{9b}2J\u{202e}rtl\u{2069}\r\n",
            "\\\\\\",
            "\\u",
            "\\u{",
            "trailing \\",
        ];
        for s in samples {
            let whole = t(s);
            let cuts: Vec<usize> = (0..=s.len()).filter(|&i| s.is_char_boundary(i)).collect();
            for &a in &cuts {
                for &b in cuts.iter().filter(|&&b| b >= a) {
                    let mut stream = Stream::default();
                    let mut shown = String::new();
                    for chunk in [&s[..a], &s[a..b], &s[b..]] {
                        shown.push_str(&stream.push(chunk));
                    }
                    shown.push_str(&stream.finish());
                    assert_eq!(shown, whole, "{s:?} cut at {a} and {b}");
                }
            }
        }
    }

    #[test]
    fn a_stream_prints_what_is_decided_at_once() {
        let mut stream = Stream::default();
        assert_eq!(stream.push("a\x1b"), r"a\x1b");
        assert_eq!(stream.push("[2J b\\"), "[2J b");
        assert_eq!(stream.push("x1b c"), r"\\x1b c");
        assert_eq!(stream.push("\\\\"), "");
        assert_eq!(stream.push("\\u"), "");
        assert_eq!(stream.push("0041"), r"\\\u0041");
        assert_eq!(stream.push("end\\"), "end");
        assert_eq!(stream.finish(), "\\");
        assert_eq!(stream.finish(), "");
    }

    #[test]
    fn a_long_run_of_backslashes_in_tiny_chunks_is_not_rescanned() {
        let mut stream = Stream::default();
        for _ in 0..100_000 {
            assert_eq!(stream.push("\\"), "");
        }
        let shown = stream.push("x");
        assert_eq!(shown.len(), 200_001);
        assert!(shown.ends_with("\\x"));
    }

    #[test]
    fn json_results_stay_json_and_read_back_exact() {
        let v = serde_json::json!({"k\x1b[2J": ["\u{9b}31m", "\x7f", "\u{202e}abc", "plain \\x1b", 1, null]});
        let shown = json(&v);
        no_raw_controls(&shown, Layout::Line);
        assert_eq!(serde_json::from_str::<Value>(&shown).unwrap_or_else(|e| panic!("{e}: {shown}")), v);
        assert!(
            shown.contains(r#""\u009b31m""#) && shown.contains(r"\u001b[2J") && shown.contains(r"\u202eabc"),
            "{shown}"
        );
        assert_eq!(json(&serde_json::json!([30, "fib", {"n": null}])), r#"[30,"fib",{"n":null}]"#);
    }
}
