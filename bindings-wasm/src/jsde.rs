//! A small serde `Deserializer` over plain JavaScript values, and output through
//! `serde-wasm-bindgen`'s serializer, for the ledger tools (feature
//! `ledger`, their own module, which links serde_json anyway). The module a page loads reads
//! its options and snapshots with the hand-written readers in [`crate::convert`] instead: the
//! serde visitors of a dozen types were a sixth of it.
//!
//! Why not `serde_json` (as before) or `serde-wasm-bindgen`'s deserializer: `serde_json`'s
//! `Value` round trip was a third of the module; `serde-wasm-bindgen` refuses a whole number
//! above 2^53 for an integer field, where a JavaScript caller has only doubles (`2 ** 64` must
//! read as `u64::MAX`, as every other language reads it). The reader here reads a JavaScript
//! value the way `serde_json` reads the same value as JSON: a whole number is an integer
//! (saturating beyond 64 bits), any other number a float.

use crate::convert::{BindError, Res, MAX_DEPTH};
use js_sys::{Array, BigInt, Object, Reflect};
use serde::de::{self, DeserializeOwned, Visitor};
use serde::Serialize;
use std::fmt;
use wasm_bindgen::{JsCast, JsValue};

/// What went wrong reading a value (serde's message: field names, never values).
#[derive(Debug)]
pub(crate) struct DeError(String);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(msg.to_string())
    }

    // serde's own wording, but through `what` below: serde's `Display` of `Unexpected` prints
    // floats, and that alone links Rust's float printing (~14 KB) into the module.
    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError(format!("invalid type: {}, expected {exp}", what(&unexp)))
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError(format!("invalid value: {}, expected {exp}", what(&unexp)))
    }

    // A name the caller gave may be anything they pasted (a key): never repeated. The rest is
    // serde's wording ("expected one of `a`, `b`").
    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        DeError(<de::value::Error as de::Error>::unknown_variant("…", expected).to_string())
    }
}

/// What a value was, in an error message. Never the value itself where it could be a secret (a
/// string, bytes); numbers and names are the API's own.
fn what(u: &de::Unexpected<'_>) -> String {
    use de::Unexpected as U;
    match u {
        U::Bool(b) => format!("boolean `{b}`"),
        U::Unsigned(n) => format!("integer `{n}`"),
        U::Signed(n) => format!("integer `{n}`"),
        U::Float(_) => "a floating point number".to_owned(),
        U::Char(_) => "a character".to_owned(),
        U::Str(_) => "a string".to_owned(),
        U::Bytes(_) => "bytes".to_owned(),
        U::Unit => "null".to_owned(),
        U::Option => "an optional value".to_owned(),
        U::NewtypeStruct => "a newtype struct".to_owned(),
        U::Seq => "an array".to_owned(),
        U::Map => "an object".to_owned(),
        U::Enum => "an enum".to_owned(),
        U::UnitVariant => "a unit variant".to_owned(),
        U::NewtypeVariant => "a newtype variant".to_owned(),
        U::TupleVariant => "a tuple variant".to_owned(),
        U::StructVariant => "a struct variant".to_owned(),
        U::Other(o) => (*o).to_owned(),
    }
}

/// A plain JavaScript value (`null`/`undefined`, booleans, numbers, bigints, strings, arrays,
/// plain objects) as serde data. Members whose value is `undefined` are absent, as in JSON.
pub(crate) struct JsDe {
    v: JsValue,
    depth: usize,
}

impl JsDe {
    pub(crate) fn new(v: JsValue) -> Self {
        JsDe { v, depth: 0 }
    }

    /// A whole number (a number or a bigint) for an integer field, as `serde_json` reads one
    /// from JSON: saturating beyond 64 bits.
    fn integer<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if let Some(f) = self.v.as_f64() {
            if f.is_finite() && f.fract() == 0.0 {
                // `as` saturates: 2^64 and above read as u64::MAX.
                return if f >= 0.0 {
                    visitor.visit_u64(f as u64)
                } else {
                    visitor.visit_i64(f as i64)
                };
            }
            return Err(de::Error::invalid_type(
                de::Unexpected::Other("a fractional number"),
                &visitor,
            ));
        }
        if self.v.is_bigint() {
            let b: BigInt = self.v.unchecked_into();
            return match u64::try_from(b.clone()) {
                Ok(u) => visitor.visit_u64(u),
                Err(_) => match i64::try_from(b) {
                    Ok(i) => visitor.visit_i64(i),
                    Err(_) => Err(de::Error::custom("a bigint beyond 64 bits")),
                },
            };
        }
        Err(self.unexpected(&visitor))
    }

    /// "invalid type: <what JavaScript gave>, expected <what the field takes>" (no value).
    fn unexpected(&self, expected: &dyn de::Expected) -> DeError {
        let v = &self.v;
        let what = if v.is_null() || v.is_undefined() {
            de::Unexpected::Unit
        } else if v.as_bool().is_some() {
            de::Unexpected::Other("a boolean")
        } else if v.as_f64().is_some() || v.is_bigint() {
            de::Unexpected::Other("a number")
        } else if v.is_string() {
            de::Unexpected::Other("a string")
        } else if Array::is_array(v) {
            de::Unexpected::Seq
        } else {
            de::Unexpected::Map
        };
        de::Error::invalid_type(what, expected)
    }
}

impl<'de> de::Deserializer<'de> for JsDe {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let v = &self.v;
        if v.is_null() || v.is_undefined() {
            return visitor.visit_unit();
        }
        if let Some(b) = v.as_bool() {
            return visitor.visit_bool(b);
        }
        if let Some(f) = v.as_f64() {
            // A whole number is an integer, as in JSON; any other a float.
            return if f.is_finite() && f.fract() == 0.0 {
                self.integer(visitor)
            } else {
                visitor.visit_f64(f)
            };
        }
        if v.is_bigint() {
            return self.integer(visitor);
        }
        if let Some(s) = v.as_string() {
            return visitor.visit_string(s);
        }
        if Array::is_array(v) {
            return self.deserialize_seq(visitor);
        }
        if v.is_object() && !v.is_function() {
            return self.deserialize_map(visitor);
        }
        Err(de::Error::custom("not plain data (JSON values)"))
    }

    // Structs, lists and names ask for what they take: no `visit_seq` of every struct (serde
    // derives one for the array form of a struct) is built into the module that way.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let v = self.v;
        if !v.is_object() || Array::is_array(&v) || v.is_function() {
            return Err(de::Error::custom("expected an object"));
        }
        if self.depth >= MAX_DEPTH {
            return Err(de::Error::custom("nested too deeply"));
        }
        let entries = Object::entries(v.unchecked_ref());
        visitor.visit_map(MapDe {
            len: entries.length(),
            entries,
            i: 0,
            value: JsValue::UNDEFINED,
            key: JsValue::UNDEFINED,
            depth: self.depth + 1,
        })
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if !Array::is_array(&self.v) {
            return Err(de::Error::custom("expected an array"));
        }
        if self.depth >= MAX_DEPTH {
            return Err(de::Error::custom("nested too deeply"));
        }
        let a: Array = self.v.unchecked_into();
        visitor.visit_seq(SeqDe {
            len: a.length(),
            a,
            i: 0,
            depth: self.depth + 1,
        })
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.v.as_string() {
            Some(s) => visitor.visit_string(s),
            None => Err(de::Error::custom("expected a name (a string)")),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.v.as_bool() {
            Some(b) => visitor.visit_bool(b),
            None => Err(self.unexpected(&visitor)),
        }
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.integer(visitor)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.integer(visitor)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.integer(visitor)
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.integer(visitor)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.integer(visitor)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.integer(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.v.as_f64() {
            Some(f) => visitor.visit_f64(f),
            // A bigint where a float is taken: its value, rounded.
            None if self.v.is_bigint() => self.integer(visitor),
            None => Err(self.unexpected(&visitor)),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.v.as_string() {
            Some(s) => visitor.visit_string(s),
            None => Err(self.unexpected(&visitor)),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.v.is_null() || self.v.is_undefined() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.v.as_string() {
            // The core's enums cross as their names.
            Some(s) => visitor.visit_enum(de::value::StringDeserializer::<DeError>::new(s)),
            None => Err(de::Error::custom("expected a name (a string)")),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i128 u128 char bytes byte_buf unit unit_struct tuple tuple_struct ignored_any
    }
}

struct SeqDe {
    a: Array,
    len: u32,
    i: u32,
    depth: usize,
}

impl<'de> de::SeqAccess<'de> for SeqDe {
    type Error = DeError;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        if self.i >= self.len {
            return Ok(None);
        }
        let v = self.a.get(self.i);
        self.i += 1;
        seed.deserialize(JsDe {
            v,
            depth: self.depth,
        })
        .map(Some)
    }
}

struct MapDe {
    entries: Array,
    len: u32,
    i: u32,
    value: JsValue,
    /// The member being read, named in its errors.
    key: JsValue,
    depth: usize,
}

impl<'de> de::MapAccess<'de> for MapDe {
    type Error = DeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        while self.i < self.len {
            let pair: Array = self.entries.get(self.i).unchecked_into();
            self.i += 1;
            let value = pair.get(1);
            if value.is_undefined() {
                continue;
            }
            self.value = value;
            self.key = pair.get(0);
            return seed
                .deserialize(JsDe {
                    v: self.key.clone(),
                    depth: self.depth,
                })
                .map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DeError> {
        let v = std::mem::replace(&mut self.value, JsValue::UNDEFINED);
        seed.deserialize(JsDe {
            v,
            depth: self.depth,
        })
        .map_err(|e| {
            // Member names are the API's own (a value is never quoted).
            let key: String = self
                .key
                .as_string()
                .unwrap_or_default()
                .chars()
                .take(40)
                .collect();
            DeError(format!("`{key}`: {e}"))
        })
    }
}

/// A camelCase options object → a core config. `ms_fields` are the core's duration fields
/// that the JavaScript API names with an `Ms` suffix (`baseDelayMs` → `base_delay`).
pub(crate) fn options<T: DeserializeOwned>(v: JsValue, what: &str, ms_fields: &[&str]) -> Res<T> {
    // The members under the core's names, as the main module's readers see them.
    let members = crate::convert::option_members(&v, ms_fields)
        .map_err(|e| BindError::new("invalid_option", [what, &e].concat()))?;
    let renamed = Object::new();
    for (key, value) in members {
        Reflect::set(&renamed, &JsValue::from_str(&key), &value)
            .map_err(|_| BindError::internal("options: cannot copy a member"))?;
    }
    T::deserialize(JsDe::new(renamed.into())).map_err(|e| {
        // The member and the expected type are named; a value never is (see `DeError`).
        BindError::new("invalid_option", format!("{what}: {e}"))
    })
}

/// Any serializable value → a plain JS value (objects, never `Map`s). 64-bit integers come
/// out as numbers: those beyond 2^53 as the nearest double (a JavaScript caller has no other).
pub(crate) fn to_js<T: Serialize>(v: &T) -> Res<JsValue> {
    let out = v
        .serialize(
            &serde_wasm_bindgen::Serializer::json_compatible()
                .serialize_large_number_types_as_bigints(true),
        )
        .map_err(|e| BindError::internal(e.to_string()))?;
    Ok(numbers(out, 0))
}

/// Bigints → numbers, in place through arrays and objects.
fn numbers(v: JsValue, depth: usize) -> JsValue {
    if v.is_bigint() {
        let b: BigInt = v.unchecked_into();
        return match u64::try_from(b.clone()) {
            Ok(u) => JsValue::from_f64(u as f64),
            Err(_) => JsValue::from_f64(i64::try_from(b).map_or(f64::NAN, |i| i as f64)),
        };
    }
    if depth >= MAX_DEPTH || !v.is_object() {
        return v;
    }
    if Array::is_array(&v) {
        let a: &Array = v.unchecked_ref();
        for i in 0..a.length() {
            let x = a.get(i);
            if x.is_object() || x.is_bigint() {
                a.set(i, numbers(x, depth + 1));
            }
        }
        return v;
    }
    for entry in Object::entries(v.unchecked_ref()).iter() {
        let pair: Array = entry.unchecked_into();
        let x = pair.get(1);
        if x.is_object() || x.is_bigint() {
            let _ = Reflect::set(&v, &pair.get(0), &numbers(x, depth + 1));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_never_repeat_a_value() {
        use serde::de::Error as _;
        assert_eq!(
            DeError::invalid_type(de::Unexpected::Str("sk-123"), &"u32").to_string(),
            "invalid type: a string, expected u32"
        );
        assert_eq!(
            DeError::unknown_variant("sk-123", &["full", "none"]).to_string(),
            "unknown variant `…`, expected `full` or `none`"
        );
    }
}
