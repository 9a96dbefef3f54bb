//! Values crossing between JavaScript and the core: small readers of plain JavaScript values
//! (options, snapshots, a classification handed back), a small writer of plain objects, the
//! camelCase option names, times in milliseconds, and errors.
//!
//! Why not serde (through `serde_json` first, then a serde `Deserializer` over JavaScript
//! values and `serde-wasm-bindgen`'s serializer, both now only in the ledger module: `jsde`):
//! serde's code for the two dozen types read and written here was a sixth of the module a page
//! loads. Why not `serde-wasm-bindgen`'s deserializer even there: it refuses a whole number
//! above 2^53 for an integer field, where a JavaScript caller has only doubles (`2 ** 64` must
//! read as `u64::MAX`, as every other language reads it).

use js_sys::{Array, BigInt, Object, Reflect};
use std::time::Duration;
use wasm_bindgen::{JsCast, JsValue};

// ---- errors ----

/// An error on its way to JavaScript: a stable code, a message that never quotes input values,
/// and for some codes one extra property (`option` for `invalid_option`, `kind` for
/// `invalid_ledger_line`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BindError {
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) extra: Option<(&'static str, String)>,
}

impl BindError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        BindError {
            code,
            message: message.into(),
            extra: None,
        }
    }

    pub(crate) fn input(message: impl Into<String>) -> Self {
        BindError::new("invalid_input", message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        BindError::new("internal", message)
    }

    /// A JS `Error` with `code` (and the extra property) set.
    pub(crate) fn into_js(self) -> JsValue {
        let e = js_sys::Error::new(&self.message);
        let _ = Reflect::set(&e, &"code".into(), &self.code.into());
        if let Some((k, v)) = self.extra {
            let _ = Reflect::set(&e, &k.into(), &v.into());
        }
        e.into()
    }
}

impl From<http_triage::Error> for BindError {
    fn from(e: http_triage::Error) -> Self {
        let message = e.to_string();
        match e {
            http_triage::Error::InvalidOption { name, .. } => BindError {
                code: "invalid_option",
                message,
                extra: Some(("option", name.to_owned())),
            },
            http_triage::Error::InvalidSnapshot(_) => BindError::new("invalid_snapshot", message),
            http_triage::Error::UnknownName { .. } => BindError::new("unknown_name", message),
            _ => BindError::internal(message),
        }
    }
}

impl From<BindError> for JsValue {
    fn from(e: BindError) -> JsValue {
        e.into_js()
    }
}

pub(crate) type Res<T> = Result<T, BindError>;

// ---- reading plain JavaScript values, by hand ----
//
// Options, snapshots and a classification handed back are read member by member into the core's
// types (see `machines` and `classify`), not through serde's `Deserialize`: the serde visitors
// of a dozen types were a sixth of the module a page loads. What a member takes is read the way
// `serde_json` reads the same value as JSON (and as the serde reader here did before): a whole
// number is an integer, saturating beyond 64 bits (`2 ** 64` reads as `u64::MAX`), a fraction
// where an integer is taken is an error, a `bigint` reads as its value. Errors are serde's
// wording: they name the member and what it takes, never the value (it could be a secret).

/// Objects and arrays nested deeper than this are refused (a cycle would never end).
pub(crate) const MAX_DEPTH: usize = 32;

/// A reader's error: its message (the member's name is put in front by [`read_members`]).
pub(crate) type Read<T> = Result<T, String>;

fn is_plain_object(v: &JsValue) -> bool {
    v.is_object() && !Array::is_array(v) && !v.is_function()
}

/// What a value is, in an error: never the value.
fn kind(v: &JsValue) -> &'static str {
    if v.is_null() || v.is_undefined() {
        "null"
    } else if v.as_bool().is_some() {
        "a boolean"
    } else if v.as_f64().is_some() || v.is_bigint() {
        "a number"
    } else if v.is_string() {
        "a string"
    } else if Array::is_array(v) {
        "an array"
    } else {
        "an object"
    }
}

fn invalid_type(what: &str, expected: &str) -> String {
    ["invalid type: ", what, ", expected ", expected].concat()
}

/// A whole number: `Ok(u)` at or above 0, `Err(i)` below.
fn whole(v: &JsValue, expected: &str) -> Read<Result<u64, i64>> {
    if let Some(f) = v.as_f64() {
        if f.is_finite() && f.fract() == 0.0 {
            // `as` saturates: 2^64 and above read as u64::MAX.
            return Ok(if f >= 0.0 {
                Ok(f as u64)
            } else {
                Err(f as i64)
            });
        }
        return Err(invalid_type("a fractional number", expected));
    }
    if v.is_bigint() {
        let b: BigInt = v.clone().unchecked_into();
        return match u64::try_from(b.clone()) {
            Ok(u) => Ok(Ok(u)),
            Err(_) => i64::try_from(b)
                .map(Err)
                .map_err(|_| "a bigint beyond 64 bits".to_owned()),
        };
    }
    Err(invalid_type(kind(v), expected))
}

/// A whole number from 0 to `max` (`expected` names the type: `u32`, `u64`).
fn unsigned(v: &JsValue, expected: &str, max: u64) -> Read<u64> {
    match whole(v, expected)? {
        Ok(u) if u <= max => Ok(u),
        Ok(u) => Err(format!("invalid value: integer `{u}`, expected {expected}")),
        Err(i) => Err(format!("invalid value: integer `{i}`, expected {expected}")),
    }
}

pub(crate) fn read_u64(v: &JsValue) -> Read<u64> {
    unsigned(v, "u64", u64::MAX)
}

pub(crate) fn read_u32(v: &JsValue) -> Read<u32> {
    unsigned(v, "u32", u32::MAX.into()).map(|u| u as u32)
}

pub(crate) fn read_u16(v: &JsValue) -> Read<u16> {
    unsigned(v, "u16", u16::MAX.into()).map(|u| u as u16)
}

/// Whole milliseconds, as the core reads a duration.
pub(crate) fn read_ms(v: &JsValue) -> Read<Duration> {
    read_u64(v).map(Duration::from_millis)
}

pub(crate) fn read_f64(v: &JsValue) -> Read<f64> {
    if let Some(f) = v.as_f64() {
        return Ok(f);
    }
    if v.is_bigint() {
        // A bigint where a float is taken: its value, rounded.
        return whole(v, "f64").map(|w| w.map_or_else(|i| i as f64, |u| u as f64));
    }
    Err(invalid_type(kind(v), "f64"))
}

pub(crate) fn read_bool(v: &JsValue) -> Read<bool> {
    v.as_bool()
        .ok_or_else(|| invalid_type(kind(v), "a boolean"))
}

pub(crate) fn read_string(v: &JsValue) -> Read<String> {
    v.as_string()
        .ok_or_else(|| invalid_type(kind(v), "a string"))
}

/// `null` is `None`.
pub(crate) fn read_opt<T>(v: &JsValue, read: fn(&JsValue) -> Read<T>) -> Read<Option<T>> {
    if v.is_null() || v.is_undefined() {
        Ok(None)
    } else {
        read(v).map(Some)
    }
}

/// serde's list of names: "`a`", "`a` or `b`", "one of `a`, `b`, `c`".
fn one_of(names: &[&str]) -> String {
    let mut out = String::new();
    if names.len() > 2 {
        out.push_str("one of ");
    }
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            out.push_str(if names.len() == 2 { " or " } else { ", " });
        }
        out.push('`');
        out.push_str(n);
        out.push('`');
    }
    out
}

/// Where a member's value goes, and so what it takes. One reader for every member of every type
/// (see [`Slot::read`]), where a reader per member was twice the code.
pub(crate) enum Slot<'a> {
    U32(&'a mut u32),
    U64(&'a mut u64),
    OptU16(&'a mut Option<u16>),
    OptU64(&'a mut Option<u64>),
    F64(&'a mut f64),
    OptF64(&'a mut Option<f64>),
    Bool(&'a mut bool),
    OptBool(&'a mut Option<bool>),
    Str(&'a mut String),
    OptStr(&'a mut Option<String>),
    /// Whole milliseconds.
    Ms(&'a mut Duration),
    OptMs(&'a mut Option<Duration>),
}

impl Slot<'_> {
    /// Reads `v` into the slot (`null` is `None` for the optional ones).
    pub(crate) fn read(self, v: &JsValue) -> Read<()> {
        match self {
            Slot::U32(x) => *x = read_u32(v)?,
            Slot::U64(x) => *x = read_u64(v)?,
            Slot::OptU16(x) => *x = read_opt(v, read_u16)?,
            Slot::OptU64(x) => *x = read_opt(v, read_u64)?,
            Slot::F64(x) => *x = read_f64(v)?,
            Slot::OptF64(x) => *x = read_opt(v, read_f64)?,
            Slot::Bool(x) => *x = read_bool(v)?,
            Slot::OptBool(x) => *x = read_opt(v, read_bool)?,
            Slot::Str(x) => *x = read_string(v)?,
            Slot::OptStr(x) => *x = read_opt(v, read_string)?,
            Slot::Ms(x) => *x = read_ms(v)?,
            Slot::OptMs(x) => *x = read_opt(v, read_ms)?,
        }
        Ok(())
    }
}

/// One of the core's names (`"full"`): `names` and `values` in the same order.
pub(crate) fn read_name<T: Copy>(v: &JsValue, names: &[&str], values: &[T]) -> Read<T> {
    let Some(s) = v.as_string() else {
        return Err("expected a name (a string)".to_owned());
    };
    names
        .iter()
        .position(|n| *n == s)
        .and_then(|i| values.get(i).copied())
        // The name the caller gave may be anything they pasted (a key): never repeated.
        .ok_or_else(|| ["unknown variant `…`, expected ", &one_of(names)].concat())
}

/// The elements of an array.
pub(crate) fn read_list<T>(v: &JsValue, read: fn(&JsValue) -> Read<T>) -> Read<Vec<T>> {
    if !Array::is_array(v) {
        return Err("expected an array".to_owned());
    }
    let a: &Array = v.unchecked_ref();
    (0..a.length()).map(|i| read(&a.get(i))).collect()
}

/// The members of a plain object, in order, those whose value is `undefined` left out (absent,
/// as in JSON).
pub(crate) fn members(v: &JsValue) -> Read<Vec<(String, JsValue)>> {
    if !is_plain_object(v) {
        return Err("expected an object".to_owned());
    }
    Ok(Object::entries(v.unchecked_ref())
        .iter()
        .filter_map(|e| {
            let pair: Array = e.unchecked_into();
            let value = pair.get(1);
            (!value.is_undefined()).then(|| (pair.get(0).as_string().unwrap_or_default(), value))
        })
        .collect())
}

/// What to do with a member whose name is not in the list.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Unknown {
    /// An error that names it (`deny_unknown_fields`).
    Refuse,
    /// Skipped, once checked to be plain data at most this deep (as serde skips a member).
    Skip(usize),
}

/// Reads members into a value: `set(i, value)` reads the member named `names[i]` (its errors
/// get the member's name in front). `required` is a mask of the members that must be there
/// (bit `i` for `names[i]`): the first one missing is the error.
pub(crate) fn read_members(
    list: Vec<(String, JsValue)>,
    names: &[&str],
    unknown: Unknown,
    required: u32,
    set: &mut dyn FnMut(usize, &JsValue) -> Read<()>,
) -> Read<()> {
    let mut seen = 0u32;
    for (key, value) in list {
        let at = |e: String| {
            // Member names are the API's own (a value is never quoted).
            let key: String = key.chars().take(40).collect();
            format!("`{key}`: {e}")
        };
        match names.iter().position(|n| *n == key) {
            Some(i) => {
                set(i, &value).map_err(at)?;
                seen |= 1 << i;
            }
            None => match unknown {
                Unknown::Refuse => {
                    return Err(["unknown field `", &key, "`, expected ", &one_of(names)].concat())
                }
                Unknown::Skip(depth) => plain(&value, depth).map_err(at)?,
            },
        }
    }
    match names
        .iter()
        .enumerate()
        .find(|(i, _)| required & !seen & (1 << i) != 0)
    {
        Some((_, n)) => Err(["missing field `", n, "`"].concat()),
        None => Ok(()),
    }
}

/// A value read only to be skipped: plain data (JSON values, bigints within 64 bits), nested at
/// most [`MAX_DEPTH`] deep, as serde's reader skipped one.
fn plain(v: &JsValue, depth: usize) -> Read<()> {
    if v.is_null()
        || v.is_undefined()
        || v.as_bool().is_some()
        || v.is_string()
        || v.as_f64().is_some()
    {
        return Ok(());
    }
    if v.is_bigint() {
        return whole(v, "any value").map(drop);
    }
    if Array::is_array(v) {
        if depth >= MAX_DEPTH {
            return Err("nested too deeply".to_owned());
        }
        let a: &Array = v.unchecked_ref();
        return (0..a.length()).try_for_each(|i| plain(&a.get(i), depth + 1));
    }
    if is_plain_object(v) {
        if depth >= MAX_DEPTH {
            return Err("nested too deeply".to_owned());
        }
        let list = members(v)?;
        return read_members(list, &[], Unknown::Skip(depth + 1), 0, &mut |_, _| Ok(()));
    }
    Err("not plain data (JSON values)".to_owned())
}

/// The members of a camelCase options object under the core's names: `baseDelayMs` →
/// `base_delay_ms`, and → `base_delay` for the core's duration fields in `ms_fields` (the
/// JavaScript API names them with an `Ms` suffix). Two names for the same member: the later
/// one counts. `null`/`undefined` is no options.
pub(crate) fn option_members(v: &JsValue, ms_fields: &[&str]) -> Read<Vec<(String, JsValue)>> {
    let mut out: Vec<(String, JsValue)> = Vec::new();
    if v.is_undefined() || v.is_null() {
        return Ok(out);
    }
    if !is_plain_object(v) {
        return Err(" must be an object".to_owned());
    }
    for entry in Object::entries(v.unchecked_ref()).iter() {
        let pair: Array = entry.unchecked_into();
        let mut key = snake_case(&pair.get(0).as_string().unwrap_or_default());
        if let Some(stem) = key.strip_suffix("_ms") {
            if ms_fields.contains(&stem) {
                key = stem.to_owned();
            }
        }
        if key == "__proto__" {
            // An own `__proto__` member (`JSON.parse` makes one) was copied onto the renamed
            // options object with `Reflect.set` before: that set its prototype, never a member
            // read. Still skipped, not refused.
            continue;
        }
        let value = pair.get(1);
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => out.push((key, value)),
        }
    }
    out.retain(|(_, v)| !v.is_undefined());
    Ok(out)
}

/// A camelCase options object (see [`option_members`]) into a core config: `names` are the
/// core's member names, `set` reads one (see [`read_members`]); unknown members are refused.
/// Errors are `invalid_option`, "`what`: …".
pub(crate) fn options(
    v: &JsValue,
    what: &str,
    ms_fields: &[&str],
    names: &[&str],
    set: &mut dyn FnMut(usize, &JsValue) -> Read<()>,
) -> Res<()> {
    let list = option_members(v, ms_fields)
        .map_err(|e| BindError::new("invalid_option", [what, &e].concat()))?;
    read_members(list, names, Unknown::Refuse, 0, set)
        // The member and the expected type are named; a value never is.
        .map_err(|e| BindError::new("invalid_option", [what, ": ", &e].concat()))
}

/// A snapshot object (the core's own snake_case format) into the core's snapshot type (see
/// [`read_members`]); unknown members are refused. Errors are `invalid_snapshot`.
pub(crate) fn snapshot(
    v: &JsValue,
    what: &str,
    names: &[&str],
    required: u32,
    set: &mut dyn FnMut(usize, &JsValue) -> Read<()>,
) -> Res<()> {
    members(v)
        .and_then(|list| read_members(list, names, Unknown::Refuse, required, set))
        .map_err(|e| BindError::new("invalid_snapshot", [what, " does not read: ", &e].concat()))
}

/// `baseDelayMs` → `base_delay_ms`.
fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for ch in key.chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

// ---- writing plain JavaScript values ----

/// A plain object written member by member, in the order given (the order serde wrote them in
/// before: the core's field order). Written by hand rather than through serde's `Serialize`
/// and `serde-wasm-bindgen`'s serializer: their code for the dozen types written here was ~10 KB
/// of the module a page loads. Absent values are `null`; 64-bit integers come out as numbers,
/// those beyond 2^53 as the nearest double (a JavaScript caller has no other).
pub(crate) struct Obj(Object);

impl Obj {
    pub(crate) fn new() -> Self {
        Obj(Object::new())
    }

    pub(crate) fn set(&self, key: &str, value: &JsValue) {
        // Cannot fail: a new plain object, own data members.
        let _ = Reflect::set(&self.0, &JsValue::from_str(key), value);
    }

    pub(crate) fn num(&self, key: &str, v: Option<u64>) {
        self.float(key, v.map(|v| v as f64));
    }

    pub(crate) fn float(&self, key: &str, v: Option<f64>) {
        self.set(key, &v.map_or(JsValue::NULL, JsValue::from_f64));
    }

    pub(crate) fn str(&self, key: &str, v: Option<&str>) {
        self.set(key, &v.map_or(JsValue::NULL, JsValue::from_str));
    }

    pub(crate) fn bool(&self, key: &str, v: Option<bool>) {
        self.set(key, &v.map_or(JsValue::NULL, JsValue::from_bool));
    }

    pub(crate) fn done(self) -> JsValue {
        self.0.into()
    }
}

/// An array of the values `f` writes.
pub(crate) fn array<T>(items: &[T], f: impl Fn(&T) -> JsValue) -> JsValue {
    items.iter().map(f).collect::<Array>().into()
}

/// A time or a delay from JavaScript (milliseconds) → whole milliseconds.
pub(crate) fn ms(v: f64, name: &str) -> Res<u64> {
    if v.is_finite() && v >= 0.0 {
        // `as` saturates; fractions of a millisecond are dropped.
        Ok(v as u64)
    } else {
        Err(BindError::input(format!(
            "`{name}` must be a non-negative number of milliseconds"
        )))
    }
}

/// A time on the caller's clock (or a delay) from JavaScript: a number of milliseconds, or a
/// `bigint` for clocks beyond 2^53 (exact, where a number would round).
pub(crate) fn time(v: &JsValue, name: &str) -> Res<u64> {
    if let Some(f) = v.as_f64() {
        return ms(f, name);
    }
    if v.is_bigint() {
        let b: BigInt = v.clone().unchecked_into();
        return u64::try_from(b).map_err(|_| {
            BindError::input(format!("`{name}` must fit in 64 bits and be non-negative"))
        });
    }
    Err(BindError::input(format!(
        "`{name}` must be a number (or a bigint) of milliseconds"
    )))
}

pub(crate) fn ms_duration(v: f64, name: &str) -> Res<Duration> {
    ms(v, name).map(Duration::from_millis)
}

pub(crate) fn millis(d: Duration) -> u64 {
    // Not `as_millis` (a u128 division, a library call in wasm): the same value, saturated.
    d.as_secs()
        .saturating_mul(1000)
        .saturating_add(u64::from(d.subsec_millis()))
}

pub(crate) fn random(v: f64) -> Res<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(BindError::input("`random` must be a number in [0, 1)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_to_snake() {
        assert_eq!(snake_case("baseDelayMs"), "base_delay_ms");
        assert_eq!(snake_case("beta"), "beta");
    }

    #[test]
    fn lists_of_names_as_serde_words_them() {
        assert_eq!(one_of(&["a"]), "`a`");
        assert_eq!(one_of(&["a", "b"]), "`a` or `b`");
        assert_eq!(one_of(&["a", "b", "c"]), "one of `a`, `b`, `c`");
    }
}
