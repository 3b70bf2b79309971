//! The session's Set-Cookie header, written byte for byte as `webob.cookies.make_cookie` writes it
//! with the same arguments, so that a stock response gets exactly what `response.set_cookie` would
//! have added. The options arrive checked (python/pyramid_nacl_session/options.py is the one place
//! their rules live); the value is our own base64, which never needs quoting.

use pyo3::exceptions::{PyOverflowError, PyValueError};
use pyo3::prelude::*;

use crate::clock;
use crate::cookie_header::byte_set;

/// WebOb's `_allowed_cookie_chars`: a Set-Cookie value of only these is written unquoted.
static VALUE_OK: [bool; 256] = byte_set(
    b"!#$%&'()*+-./0123456789:<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~",
);
/// What WebOb's `_path_quote` leaves as it is: the value bytes and the space.
static PATH_OK: [bool; 256] = {
    let mut set = VALUE_OK;
    set[b' ' as usize] = true;
    set
};

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
/// 9999-12-31 23:59:59 UTC: past it, Python's `datetime` (and so WebOb) overflows.
const LAST_SECOND: u64 = 253_402_300_799;

/// WebOb's `serialize_cookie_date` of a time in seconds since the epoch (UTC):
/// `Wdy, DD-Mon-YYYY HH:MM:SS GMT`. Hand-written: no date crate writes this (Netscape) format,
/// and the civil-date arithmetic is a few lines (Howard Hinnant's `civil_from_days`).
pub fn cookie_date(secs: u64) -> Option<String> {
    if secs > LAST_SECOND {
        return None;
    }
    let days = secs / 86_400;
    let clock = secs % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    // 1970-01-01 was a Thursday, index 3 from Monday.
    let weekday = WEEKDAYS[((days + 3) % 7) as usize];
    Some(format!(
        "{weekday}, {day:02}-{}-{year} {:02}:{:02}:{:02} GMT",
        MONTHS[(month - 1) as usize],
        clock / 3600,
        clock / 60 % 60,
        clock % 60
    ))
}

/// WebOb's `_path_quote` of `text.encode('latin-1')`, used for Path and Domain. options.py
/// refuses text that is not latin-1; anything above U+00FF is escaped byte by byte as UTF-8
/// rather than failing, so that building a header has no error path.
fn path_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut utf8 = [0; 4];
    for c in text.chars() {
        let bytes: &[u8] = match u8::try_from(c) {
            Ok(b) => {
                utf8[0] = b;
                &utf8[..1]
            }
            Err(_) => c.encode_utf8(&mut utf8).as_bytes(),
        };
        for &b in bytes {
            if PATH_OK[b as usize] {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("\\{b:03o}"));
            }
        }
    }
    out
}

/// The session cookie's name and attributes, made once per session factory from checked
/// options, writing its Set-Cookie value as `webob.cookies.make_cookie` with the same arguments.
#[pyclass(frozen, module = "pyramid_nacl_session._core")]
pub struct CookieSpec {
    /// `name=`
    prefix: String,
    /// Domain, Max-Age and Path, the attributes WebOb writes sorted before `expires`.
    attrs: String,
    max_age: Option<u64>,
    /// Domain and Path alone, around a session's own Max-Age (`adjust_timeout_for_session`).
    domain_attr: String,
    path_attr: String,
    /// secure, HttpOnly, SameSite and Partitioned, which WebOb writes after `expires`.
    flags: String,
    delete: String,
}

impl CookieSpec {
    /// The Set-Cookie value carrying `value`, appended to `out` (which may already hold the
    /// prefix's room); `value` must be made of `VALUE_OK` bytes, as our base64 always is.
    /// `own_max_age` replaces the factory's `max_age` for this one cookie.
    fn finish(
        &self,
        out: &mut String,
        now: impl FnOnce() -> PyResult<u64>,
        own_max_age: Option<u64>,
    ) -> PyResult<()> {
        let max_age = match own_max_age {
            None => {
                out.push_str(&self.attrs);
                self.max_age
            }
            Some(n) => {
                out.push_str(&self.domain_attr);
                out.push_str(&max_age_attr(n));
                out.push_str(&self.path_attr);
                own_max_age
            }
        };
        if let Some(max_age) = max_age {
            // options.py bounds max_age, so this fails only near the year 9999.
            let expires = now()?
                .checked_add(max_age)
                .and_then(cookie_date)
                .ok_or_else(|| PyOverflowError::new_err("max_age: date value out of range"))?;
            out.push_str("; expires=");
            out.push_str(&expires);
        }
        out.push_str(&self.flags);
        Ok(())
    }

    /// Builds the whole header around a value that `write_value` appends: the session's
    /// sealed base64, written straight into the header's buffer.
    pub fn header_with(
        &self,
        py: Python<'_>,
        value_len: usize,
        own_max_age: Option<u64>,
        write_value: impl FnOnce(&mut String) -> PyResult<()>,
    ) -> PyResult<String> {
        let mut out = String::with_capacity(self.prefix.len() + value_len + 160);
        out.push_str(&self.prefix);
        write_value(&mut out)?;
        self.finish(&mut out, || unix_now(py), own_max_age)?;
        Ok(out)
    }

    pub fn header_at(&self, value: &str, now: u64) -> PyResult<String> {
        // WebOb would quote such a value and warn that it will refuse it; ours never need it.
        if !value.bytes().all(|b| VALUE_OK[b as usize]) {
            return Err(PyValueError::new_err(
                "cookie value holds characters that would need quoting",
            ));
        }
        let mut out = String::with_capacity(self.prefix.len() + value.len() + 160);
        out.push_str(&self.prefix);
        out.push_str(value);
        self.finish(&mut out, || Ok(now), None)?;
        Ok(out)
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.prefix[..self.prefix.len() - 1]
    }

    pub fn delete(&self) -> &str {
        &self.delete
    }
}

fn max_age_attr(n: u64) -> String {
    format!("; Max-Age={n}")
}

/// Whole seconds of the one clock (src/clock.rs), read only when an expiry date is written.
fn unix_now(py: Python<'_>) -> PyResult<u64> {
    // As WebOb's: a fraction of a second is dropped; a clock before 1970 is 1970.
    Ok(clock::now(py)?.max(0.0) as u64)
}

#[pymethods]
impl CookieSpec {
    #[new]
    #[pyo3(signature = (name, max_age=None, path=Some("/".to_owned()), domain=None, secure=false, httponly=false, samesite=None, partitioned=false))]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: String,
        max_age: Option<u64>,
        path: Option<String>,
        domain: Option<String>,
        secure: bool,
        httponly: bool,
        samesite: Option<String>,
        partitioned: bool,
    ) -> Self {
        // WebOb leaves out an empty Domain or Path.
        let domain_attr = domain
            .filter(|d| !d.is_empty())
            .map_or_else(String::new, |d| format!("; Domain={}", path_quote(&d)));
        let path_attr = path
            .filter(|p| !p.is_empty())
            .map_or_else(String::new, |p| format!("; Path={}", path_quote(&p)));
        let attrs = format!(
            "{domain_attr}{}{path_attr}",
            max_age.map_or_else(String::new, max_age_attr)
        );
        let delete_attrs = format!("{domain_attr}{}{path_attr}", max_age_attr(0));
        let mut flags = String::new();
        if secure {
            flags.push_str("; secure");
        }
        if httponly {
            flags.push_str("; HttpOnly");
        }
        if let Some(samesite) = samesite {
            flags.push_str("; SameSite=");
            flags.push_str(&samesite);
        }
        // CHIPS: WebOb 1.8 has no such keyword; browsers take the attribute anywhere after the
        // value. options.py refuses it without secure, which browsers require for it.
        if partitioned {
            flags.push_str("; Partitioned");
        }
        let delete = format!("{name}={delete_attrs}; expires=Wed, 31-Dec-97 23:59:59 GMT{flags}");
        CookieSpec {
            prefix: format!("{name}="),
            attrs,
            max_age,
            domain_attr,
            path_attr,
            flags,
            delete,
        }
    }

    /// The Set-Cookie value carrying ``value`` (any text; refused if it would need quoting).
    fn header(&self, py: Python<'_>, value: &str) -> PyResult<String> {
        self.header_at(value, unix_now(py)?)
    }

    /// The Set-Cookie value that deletes the cookie.
    fn delete_header(&self) -> &str {
        &self.delete
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_dates_match_python_strftime() {
        assert_eq!(cookie_date(0).unwrap(), "Thu, 01-Jan-1970 00:00:00 GMT");
        assert_eq!(
            cookie_date(951_782_400).unwrap(),
            "Tue, 29-Feb-2000 00:00:00 GMT"
        );
        assert_eq!(
            cookie_date(1_700_000_000).unwrap(),
            "Tue, 14-Nov-2023 22:13:20 GMT"
        );
        assert_eq!(
            cookie_date(LAST_SECOND).unwrap(),
            "Fri, 31-Dec-9999 23:59:59 GMT"
        );
        assert_eq!(cookie_date(LAST_SECOND + 1), None);
    }

    #[test]
    fn header_orders_attributes_as_webob() {
        let spec = CookieSpec::new(
            "session".into(),
            Some(60),
            Some("/a b;".into()),
            Some("example.com".into()),
            true,
            true,
            Some("None".into()),
            false,
        );
        assert_eq!(
            spec.header_at("v", 0).unwrap(),
            "session=v; Domain=example.com; Max-Age=60; Path=/a b\\073; \
             expires=Thu, 01-Jan-1970 00:01:00 GMT; secure; HttpOnly; SameSite=None"
        );
        assert_eq!(
            spec.delete,
            "session=; Domain=example.com; Max-Age=0; Path=/a b\\073; \
             expires=Wed, 31-Dec-97 23:59:59 GMT; secure; HttpOnly; SameSite=None"
        );
        assert!(spec.header_at("a b", 0).is_err());
    }

    #[test]
    fn partitioned_goes_on_the_cookie_and_its_deletion() {
        let spec = CookieSpec::new("s".into(), None, None, None, true, false, None, true);
        assert_eq!(spec.header_at("v", 0).unwrap(), "s=v; secure; Partitioned");
        assert!(spec.delete.ends_with("; secure; Partitioned"));
    }

    #[test]
    fn a_sessions_own_max_age_replaces_the_factorys_in_place() {
        let spec = CookieSpec::new(
            "s".into(),
            Some(60),
            Some("/".into()),
            Some("example.com".into()),
            false,
            false,
            None,
            false,
        );
        let mut own = String::from("s=v");
        spec.finish(&mut own, || Ok(0), Some(86_400)).unwrap();
        assert_eq!(
            own,
            "s=v; Domain=example.com; Max-Age=86400; Path=/; expires=Fri, 02-Jan-1970 00:00:00 GMT"
        );
        let mut default = String::from("s=v");
        spec.finish(&mut default, || Ok(0), None).unwrap();
        assert_eq!(default, spec.header_at("v", 0).unwrap());
    }
}
