//! Commands and answers of the PyROS socket protocol for every device.
//!
//! A request is `{"command": [{"name": NAME, ...parameters}]}`. The device
//! answers a JSON list holding an object named after the command
//! (`[{"name": "SLEW_RADEC", "result": "OK"}]`, `[{"name": "STATUS", ...}]`) or
//! an error: `[{"name": "ERROR", "error": KIND, "message": TEXT}]`, where KIND
//! is `busy`, `not_supported`, `limit`, `aborted`, `comm` or `bad_request`.

use ferros_devices::{DeviceError, DeviceResult};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::wire::WireError;

/// A request for one command with its parameters (an object, or `null`).
pub fn request(name: &str, params: Value) -> Value {
    let mut command = match params {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    command.insert("name".into(), name.into());
    json!({"command": [command]})
}

/// The command of a request: its name and the whole object (parameters).
pub fn command(v: &Value) -> Result<(String, Map<String, Value>), WireError> {
    let list = v.get("command").and_then(Value::as_array).ok_or(WireError::NotACommand)?;
    let first = list.first().and_then(Value::as_object).ok_or(WireError::NoCommand)?;
    let name = first.get("name").and_then(Value::as_str).ok_or(WireError::NoName)?;
    Ok((name.to_owned(), first.clone()))
}

/// The answer to a command that has nothing to return.
pub fn ok(name: &str) -> Value {
    json!([{"name": name, "result": "OK"}])
}

/// An answer object for `name` with `fields` (an object).
pub fn answer(name: &str, fields: Value) -> Value {
    let mut o = match fields {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    o.insert("name".into(), name.into());
    Value::Array(vec![Value::Object(o)])
}

/// The answer for a failed command.
pub fn error(e: &DeviceError) -> Value {
    let (kind, message) = match e {
        DeviceError::Busy { reason, .. } => ("busy", reason.clone()),
        DeviceError::NotSupported { what, .. } => ("not_supported", what.clone()),
        DeviceError::Limit { reason, .. } => ("limit", reason.clone()),
        DeviceError::Aborted { what, .. } => ("aborted", what.clone()),
        DeviceError::Comm { reason, .. } => ("comm", reason.clone()),
        DeviceError::Timeout { what, seconds, .. } => ("comm", format!("{what}: no answer in {seconds} s")),
    };
    json!([{"name": "ERROR", "error": kind, "message": message}])
}

/// An answer for a request the device could not read.
pub fn bad_request(message: impl std::fmt::Display) -> Value {
    json!([{"name": "ERROR", "error": "bad_request", "message": message.to_string()}])
}

/// The object answering `name` in `reply`, or the device's error as a `DeviceError`.
pub fn expect(device: &str, name: &str, reply: &Value) -> DeviceResult<Map<String, Value>> {
    let list = reply
        .as_array()
        .ok_or_else(|| DeviceError::comm(device, format!("answer to {name} is not a JSON list")))?;
    for o in list.iter().filter_map(Value::as_object) {
        match o.get("name").and_then(Value::as_str) {
            Some(n) if n == name => return Ok(o.clone()),
            Some("ERROR") => {
                let message = o.get("message").and_then(Value::as_str).unwrap_or("no message").to_owned();
                return Err(match o.get("error").and_then(Value::as_str) {
                    Some("busy") => DeviceError::busy(device, message),
                    Some("not_supported") => DeviceError::not_supported(device, message),
                    Some("limit") => DeviceError::limit(device, message),
                    Some("aborted") => DeviceError::aborted(device, message),
                    Some("bad_request") => {
                        DeviceError::comm(device, format!("{name} refused as malformed: {message}"))
                    }
                    _ => DeviceError::comm(device, format!("{name} failed: {message}")),
                });
            }
            _ => {}
        }
    }
    let names: Vec<&str> =
        list.iter().filter_map(|o| o.get("name").and_then(Value::as_str)).collect::<Vec<_>>();
    Err(DeviceError::comm(device, format!("answer to {name} has no {name} object (got {names:?})")))
}

/// Reads typed fields out of an answer object, naming the field that is wrong.
pub fn decode<T: DeserializeOwned>(device: &str, what: &str, o: Map<String, Value>) -> DeviceResult<T> {
    serde_path_to_error::deserialize(Value::Object(o))
        .map_err(|e| DeviceError::comm(device, format!("bad {what}: {}: {}", e.path(), e.inner())))
}

/// A number parameter of a command.
pub fn number(c: &Map<String, Value>, key: &str) -> Result<f64, WireError> {
    match c.get(key) {
        Some(Value::Number(n)) => {
            n.as_f64().ok_or_else(|| WireError::field(format!("\"{key}\""), "not a number"))
        }
        Some(other) => Err(WireError::NotANumber { key: key.to_owned(), found: other.to_string() }),
        None => Err(WireError::Missing(key.to_owned())),
    }
}

/// A boolean parameter of a command.
pub fn boolean(c: &Map<String, Value>, key: &str) -> Result<bool, WireError> {
    c.get(key)
        .and_then(Value::as_bool)
        .ok_or_else(|| WireError::field(format!("\"{key}\""), "missing or not true/false"))
}
