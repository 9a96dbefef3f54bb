//! Options of the core's configs from Python keyword arguments, through the configs' own serde
//! form: new fields of a config are accepted without a change here.

use crate::convert::{f64_arg, secs_to_ms, to_json};
use crate::errors::invalid_option;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

/// A keyword given in seconds in Python, and the serde field that holds milliseconds.
pub(crate) type Seconds = &'static [(&'static str, &'static str)];

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

/// The config's fields as the core serializes them.
pub(crate) fn fields<T: Serialize>(py: Python<'_>, config: &T) -> PyResult<Map<String, Value>> {
    match serde_json::to_value(config) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(crate::errors::error(
            py,
            crate::errors::Kind::Internal,
            "a config did not serialize to an object",
            None,
            None,
        )),
    }
}

/// Build `T` from its defaults overridden by `given`: Python keywords (`seconds` maps
/// second-valued keywords to millisecond fields), or the core's own field names and units when
/// `seconds` is empty. Unknown names and wrong types raise `InvalidOptionError` naming the
/// option; range checks are the core's (`validate`, called by the caller's constructor).
pub(crate) fn build<T: Serialize + DeserializeOwned + Default>(
    py: Python<'_>,
    given: Option<&Bound<'_, PyDict>>,
    seconds: Seconds,
) -> PyResult<T> {
    let defaults = fields(py, &T::default())?;
    let mut map = defaults.clone();
    let mut set: Vec<String> = Vec::new();
    if let Some(given) = given {
        for (k, v) in given.iter() {
            let key: String = k
                .extract()
                .map_err(|_| crate::errors::invalid_input(py, "option names must be strings"))?;
            let value = if let Some((_, field)) = seconds.iter().find(|(p, _)| *p == key) {
                let field = (*field).to_owned();
                let value = if v.is_none() {
                    Value::Null
                } else {
                    let s = f64_arg(py, &v, &key)?;
                    Value::from(secs_to_ms(py, s, &key)?)
                };
                set.push(field.clone());
                map.insert(field, value);
                continue;
            } else if defaults.contains_key(&key) {
                to_json(py, &v, &format!("`{}`", clip(&key)))?
            } else {
                let mut known: Vec<&str> = defaults
                    .keys()
                    .map(String::as_str)
                    .filter(|k| !seconds.iter().any(|(_, f)| f == k))
                    .collect();
                known.extend(seconds.iter().map(|(p, _)| *p));
                known.sort_unstable();
                return Err(invalid_option(
                    py,
                    &clip(&key),
                    &format!(
                        "unknown option `{}` (known: {})",
                        clip(&key),
                        known.join(", ")
                    ),
                ));
            };
            set.push(key.clone());
            map.insert(key, value);
        }
    }
    match serde_json::from_value::<T>(Value::Object(map)) {
        Ok(t) => Ok(t),
        Err(_) => {
            // Find the option at fault: each one alone over the defaults.
            for key in &set {
                let mut one = defaults.clone();
                if let Some(v) = given_value(key, given, seconds, py)? {
                    one.insert(key.clone(), v);
                }
                if serde_json::from_value::<T>(Value::Object(one)).is_err() {
                    let name = seconds
                        .iter()
                        .find(|(_, f)| f == key)
                        .map_or(key.as_str(), |(p, _)| *p);
                    return Err(invalid_option(
                        py,
                        name,
                        &format!("`{name}` has the wrong type or an unknown value"),
                    ));
                }
            }
            Err(invalid_option(py, "", "the options do not fit together"))
        }
    }
}

/// The JSON value `build` put under `key` (recomputed on the error path only).
fn given_value(
    key: &str,
    given: Option<&Bound<'_, PyDict>>,
    seconds: Seconds,
    py: Python<'_>,
) -> PyResult<Option<Value>> {
    let Some(given) = given else { return Ok(None) };
    let py_name = seconds
        .iter()
        .find(|(_, f)| *f == key)
        .map_or(key, |(p, _)| *p);
    let Some(v) = given.get_item(py_name)? else {
        return Ok(None);
    };
    if seconds.iter().any(|(p, _)| *p == py_name) {
        if v.is_none() {
            return Ok(Some(Value::Null));
        }
        let s = f64_arg(py, &v, py_name)?;
        return Ok(Some(Value::from(secs_to_ms(py, s, py_name)?)));
    }
    to_json(py, &v, "an option").map(Some)
}
