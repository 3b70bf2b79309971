//! The Cookie and Set-Cookie headers on the request path, done as WebOb 1.8 does them.
//!
//! Reading gives what `request.cookies.get(name)` gives, in one scan that follows WebOb's
//! `_rx_cookie` pair by pair but only unquotes the pair we want. Every pair must still be
//! scanned, because a quoted value of another cookie can swallow text that looks like ours, and
//! because WebOb's dict keeps the last of duplicate names.
//!
//! The scanner is hand-written rather than built on the `regex` crate: it needs no captures or
//! allocation, and the one backtracking corner of WebOb's pattern (an unterminated quote) is
//! spelled out where tests can reach it.
//!
//! Differences from WebOb, each of which can only leave the request with a fresh session:
//! - WebOb decodes every cookie value as UTF-8 and raises `UnicodeDecodeError` from
//!   `request.cookies` when any one is not; we decode only ours, and give `None` when ours
//!   is not UTF-8.
//! - WebOb raises `UnicodeEncodeError` for a header holding a character above U+00FF (no WSGI
//!   server sends one, as the environ holds latin-1); we give `None`.

use std::borrow::Cow;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

/// A 256-entry membership table, built at compile time.
pub(crate) const fn byte_set(members: &[u8]) -> [bool; 256] {
    let mut set = [false; 256];
    let mut i = 0;
    while i < members.len() {
        set[members[i] as usize] = true;
        i += 1;
    }
    set
}

const WORD: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
/// WebOb's `_re_legal_char` (on bytes, so `\w` is ASCII): what names and unquoted values hold.
static LEGAL: [bool; 256] = byte_set(
    b"!#$%&'()*+-./0123456789:<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz{|}~",
);
/// WebOb's `_valid_token_chars`: what a name must be made of for `parse_cookie` to keep it.
static TOKEN: [bool; 256] =
    byte_set(b"!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz|~");
static IS_WORD: [bool; 256] = byte_set(WORD);

/// Python's `\s` on a bytes pattern.
fn is_space(b: u8) -> bool {
    b == b' ' || (b'\t'..=b'\r').contains(&b)
}

/// WebOb's `_valid_cookie_name`; the cookies it fails are dropped from `request.cookies`.
fn valid_name(name: &[u8]) -> bool {
    const RESERVED: [&[u8]; 8] = [
        b"path",
        b"comment",
        b"domain",
        b"max-age",
        b"expires",
        b"secure",
        b"httponly",
        b"samesite",
    ];
    !name.is_empty()
        && name[0] != b'$'
        && name.iter().all(|&b| TOKEN[b as usize])
        && !RESERVED.iter().any(|r| name.eq_ignore_ascii_case(r))
}

/// The end of `_re_quoted` (`"(?:\\"|.)*?"`) matched at `start`, where a `"` is.
fn quoted_end(h: &[u8], start: usize) -> Option<usize> {
    let mut k = start + 1;
    let mut last_escaped_quote = None;
    while k < h.len() {
        match h[k] {
            b'"' => return Some(k + 1),
            b'\n' => break,
            b'\\' if h.get(k + 1) == Some(&b'"') => {
                last_escaped_quote = Some(k + 1);
                k += 2;
            }
            _ => k += 1,
        }
    }
    // With no closing quote, Python's backtracking reads the last `\"` as `\` then the closer.
    last_escaped_quote.map(|q| q + 1)
}

/// The end of `_re_expires_val` (`\w{3},\s[\w\d-]{9,11}\s[\d:]{8}\sGMT`) matched at `start`.
fn expires_end(h: &[u8], start: usize) -> Option<usize> {
    let at = |i: usize| h.get(i).copied();
    let word = |i: usize| at(i).is_some_and(|b| IS_WORD[b as usize]);
    let space = |i: usize| at(i).is_some_and(is_space);
    if !(word(start) && word(start + 1) && word(start + 2)) || at(start + 3) != Some(b',') {
        return None;
    }
    if !space(start + 4) {
        return None;
    }
    let day = start + 5;
    let run = h[day.min(h.len())..]
        .iter()
        .take_while(|&&b| IS_WORD[b as usize] || b == b'-')
        .count();
    let time = day + run + 1;
    if !(9..=11).contains(&run) || !space(day + run) {
        return None;
    }
    let clock_ok = (time..time + 8).all(|i| at(i).is_some_and(|b| b.is_ascii_digit() || b == b':'));
    if !clock_ok || !space(time + 8) || h.get(time + 9..time + 12) != Some(b"GMT") {
        return None;
    }
    Some(time + 12)
}

/// The end of the run of `LEGAL` bytes at `start`: eight at a time while they all are (one
/// branch per eight, where a session cookie's base64 value is thousands of such bytes), then
/// one at a time.
fn legal_run_end(h: &[u8], start: usize) -> usize {
    let rest = h.get(start..).unwrap_or_default();
    let whole = rest
        .chunks_exact(8)
        .take_while(|chunk| chunk.iter().fold(true, |all, &b| all & LEGAL[b as usize]))
        .count()
        * 8;
    start
        + whole
        + rest[whole..]
            .iter()
            .position(|&b| !LEGAL[b as usize])
            .unwrap_or(rest.len() - whole)
}

/// The end of `_re_unquoted_val` matched at `start` (possibly `start` itself).
fn unquoted_end(h: &[u8], start: usize) -> usize {
    let mut k = start;
    while k < h.len() {
        if LEGAL[h[k] as usize] {
            k = legal_run_end(h, k);
        } else if h[k] == b'\\' && k + 1 < h.len() && h[k + 1] != b'\n' {
            // `\ooo` or `\` and one byte: either way the bytes after are taken as the loop goes.
            k += 2;
        } else {
            break;
        }
    }
    k
}

/// One `_rx_cookie` match: name and raw value (quotes and escapes still in).
struct Pair<'a> {
    name: &'a [u8],
    value: &'a [u8],
}

/// `_rx_cookie.findall` over the latin-1 bytes of a Cookie header.
struct Pairs<'a> {
    h: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = Pair<'a>;

    fn next(&mut self) -> Option<Pair<'a>> {
        let h = self.h;
        while self.pos < h.len() {
            let start = self.pos;
            if !LEGAL[h[start] as usize] {
                self.pos += 1;
                continue;
            }
            // The name is lazy (`+?`) and `=` is a legal name byte, so it ends at the first `=`
            // after its first byte, or at the end of the run of legal bytes if `\s*=` follows.
            let mut end = start + 1;
            while end < h.len() && h[end] != b'=' && LEGAL[h[end] as usize] {
                end += 1;
            }
            let mut eq = end;
            while eq < h.len() && is_space(h[eq]) {
                eq += 1;
            }
            if eq >= h.len() || h[eq] != b'=' {
                // Any later start inside this run fails the same way.
                self.pos = end;
                continue;
            }
            let mut vstart = eq + 1;
            while vstart < h.len() && is_space(h[vstart]) {
                vstart += 1;
            }
            let vend = (if h.get(vstart) == Some(&b'"') {
                quoted_end(h, vstart)
            } else {
                None
            })
            .or_else(|| expires_end(h, vstart))
            .unwrap_or_else(|| unquoted_end(h, vstart));
            self.pos = vend;
            return Some(Pair {
                name: &h[start..end],
                value: &h[vstart..vend],
            });
        }
        None
    }
}

/// WebOb's `_unquote`: strip surrounding quotes, then undo `\ooo` and `\c` escapes.
fn unquote(value: &[u8]) -> Cow<'_, [u8]> {
    let v = if value.len() >= 2 && value[0] == b'"' && value[value.len() - 1] == b'"' {
        &value[1..value.len() - 1]
    } else {
        value
    };
    if !v.contains(&b'\\') {
        return Cow::Borrowed(v);
    }
    let mut out = Vec::with_capacity(v.len());
    let mut k = 0;
    while k < v.len() {
        if v[k] == b'\\' && k + 1 < v.len() && v[k + 1] != b'\n' {
            let octal = v.get(k + 1..k + 4).filter(|d| {
                (b'0'..=b'3').contains(&d[0])
                    && (b'0'..=b'7').contains(&d[1])
                    && (b'0'..=b'7').contains(&d[2])
            });
            if let Some(d) = octal {
                out.push(((d[0] - b'0') << 6) | ((d[1] - b'0') << 3) | (d[2] - b'0'));
                k += 4;
            } else {
                out.push(v[k + 1]);
                k += 2;
            }
        } else {
            out.push(v[k]);
            k += 1;
        }
    }
    Cow::Owned(out)
}

/// The unquoted value bytes of the last cookie `name` in the latin-1 bytes of a Cookie header.
pub fn find_cookie_bytes<'a>(header: &'a [u8], name: &str) -> Option<Cow<'a, [u8]>> {
    if !valid_name(name.as_bytes()) {
        return None;
    }
    Pairs { h: header, pos: 0 }
        .filter(|p| p.name == name.as_bytes())
        .last()
        .map(|p| unquote(p.value))
}

/// What WebOb's `request.cookies.get(name)` gives for this `HTTP_COOKIE`, but `None` where WebOb
/// raises (see the module notes).
pub fn find_cookie<'a>(header: &'a str, name: &str) -> Option<Cow<'a, str>> {
    if header.is_ascii() {
        return match find_cookie_bytes(header.as_bytes(), name)? {
            Cow::Borrowed(b) => std::str::from_utf8(b).ok().map(Cow::Borrowed),
            Cow::Owned(v) => String::from_utf8(v).ok().map(Cow::Owned),
        };
    }
    // WebOb parses `header.encode('latin-1')` and decodes the values as UTF-8.
    let latin1: Vec<u8> = header
        .chars()
        .map(|c| u8::try_from(c).ok())
        .collect::<Option<_>>()?;
    let value = find_cookie_bytes(&latin1, name)?.into_owned();
    String::from_utf8(value).ok().map(Cow::Owned)
}

/// Whether a `Vary` value already covers the Cookie header: it names it (in any case) or is `*`.
fn varies_on_cookie(value: &str) -> bool {
    value.split(',').any(|token| {
        let token = token.trim();
        token == "*" || token.eq_ignore_ascii_case("cookie")
    })
}

/// Adds `Cookie` to the response's `Vary` (a WSGI header list): to the first `Vary` header
/// when there is one (no header names it already, in any case), else as a new one. A shared
/// cache that stores a response which read the session must not serve it to another cookie.
pub fn add_vary_cookie(py: Python<'_>, headerlist: &Bound<'_, PyList>) -> PyResult<()> {
    let mut first = None;
    for (i, item) in headerlist.iter().enumerate() {
        let item = item.cast_into::<PyTuple>()?;
        let name = item.get_borrowed_item(0)?;
        let name = name.cast::<PyString>()?;
        // Most names are longer: skip them before decoding (under abi3, a new bytes object).
        if name.len()? != 4 {
            continue;
        }
        let name = name.to_cow()?;
        if !name.eq_ignore_ascii_case("vary") {
            continue;
        }
        let value = item.get_borrowed_item(1)?;
        let value = value.cast::<PyString>()?;
        let value = value.to_cow()?;
        if varies_on_cookie(&value) {
            return Ok(());
        }
        if first.is_none() {
            let merged = if value.trim().is_empty() {
                "Cookie".to_owned()
            } else {
                format!("{value}, Cookie")
            };
            first = Some((i, name.into_owned(), merged));
        }
    }
    match first {
        Some((i, name, merged)) => headerlist.set_item(i, PyTuple::new(py, [name, merged])?),
        // Interned: no new str objects on every response that read the session.
        None => headerlist.append((intern!(py, "Vary"), intern!(py, "Cookie"))),
    }
}

/// `find_cookie` for Python: `header` is `environ.get('HTTP_COOKIE')`.
#[pyfunction]
#[pyo3(name = "find_cookie")]
pub fn py_find_cookie<'py>(
    py: Python<'py>,
    header: Option<&Bound<'py, PyString>>,
    name: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyString>>> {
    let Some(header) = header else {
        return Ok(None);
    };
    // A str that is not valid Unicode (lone surrogates) makes WebOb raise; see the module notes.
    let Ok(header) = header.to_cow() else {
        return Ok(None);
    };
    let name = name.to_cow()?;
    Ok(find_cookie(&header, &name).map(|v| PyString::new(py, &v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(header: &str, name: &str) -> Option<String> {
        find_cookie(header, name).map(Cow::into_owned)
    }

    #[test]
    fn vary_covers_cookie_when_named_in_any_case_or_star() {
        assert!(varies_on_cookie("Cookie"));
        assert!(varies_on_cookie("Accept-Encoding, cOOkie"));
        assert!(varies_on_cookie(" * "));
        assert!(!varies_on_cookie("Accept-Encoding"));
        assert!(!varies_on_cookie("Cookies, Set-Cookie"));
        assert!(!varies_on_cookie(""));
    }

    #[test]
    fn finds_a_plain_cookie_among_others() {
        assert_eq!(
            get("a=1; session=abc-_; b=2", "session").as_deref(),
            Some("abc-_")
        );
        assert_eq!(get("a=1; b=2", "session"), None);
        assert_eq!(get("", "session"), None);
    }

    #[test]
    fn names_that_merely_contain_ours_do_not_match() {
        let h = "xsession=1; session_x=2; sessions=3; Session=4; session =5";
        assert_eq!(get(h, "session").as_deref(), Some("5"));
        assert_eq!(get("xsession=1; session_x=2", "session"), None);
    }

    #[test]
    fn the_last_duplicate_wins() {
        assert_eq!(
            get("session=garbage; session=good", "session").as_deref(),
            Some("good")
        );
    }

    #[test]
    fn a_quoted_value_is_unquoted_and_can_hide_our_name() {
        assert_eq!(
            get(r#"session="a\"b\101""#, "session").as_deref(),
            Some("a\"bA")
        );
        assert_eq!(get(r#"x="; session=evil"; y=1"#, "session"), None);
        assert_eq!(
            get(r#"session="a b; c""#, "session").as_deref(),
            Some("a b; c")
        );
    }

    #[test]
    fn an_unterminated_quote_closes_at_its_last_escaped_quote() {
        assert_eq!(
            get(r#"session="a\"b\"c"#, "session").as_deref(),
            Some(r#"a"b\"#)
        );
        assert_eq!(get(r#"session="abc; x=1"#, "session").as_deref(), Some(""));
    }

    #[test]
    fn spaces_around_the_equals_sign_are_skipped() {
        assert_eq!(
            get("session \t= \r\nabc", "session").as_deref(),
            Some("abc")
        );
    }

    #[test]
    fn an_unquoted_value_runs_over_equals_signs_and_escapes() {
        assert_eq!(
            get("session=a=b\\;c;d", "session").as_deref(),
            Some("a=b;c")
        );
        assert_eq!(get("session=a,b", "session").as_deref(), Some("a"));
    }

    #[test]
    fn an_expires_date_is_one_value() {
        let h = "session=Wed, 09-Jun-2021 10:18:14 GMT; x=1";
        assert_eq!(
            get(h, "session").as_deref(),
            Some("Wed, 09-Jun-2021 10:18:14 GMT")
        );
        assert_eq!(
            get("session=Wed, 09-Jun-20210 10:18:14 GMT", "session").as_deref(),
            Some("Wed")
        );
    }

    #[test]
    fn names_webob_rejects_are_never_found() {
        assert_eq!(get("$session=1", "$session"), None);
        assert_eq!(get("path=1", "path"), None);
        assert_eq!(get("a=1", ""), None);
    }

    #[test]
    fn non_ascii_is_read_as_latin1_then_utf8() {
        assert_eq!(
            get("x=\u{e9}; session=ok", "session").as_deref(),
            Some("ok")
        );
        assert_eq!(
            get("session=\"\u{c3}\u{a9}\"", "session").as_deref(),
            Some("\u{e9}")
        );
        assert_eq!(get("session=\"\u{e9}\"", "session"), None);
        assert_eq!(get("session=ok; x=\u{1f600}", "session"), None);
    }
}
