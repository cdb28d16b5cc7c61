//! The PyROS wire format. A request is `{"command": [{"name": "STATUS"}]}`; the
//! PLC answers a JSON list whose `STATUS` object carries `device`: the sensors,
//! each with name, type, serial_number, valid ("yes"/"no") and values (seed 000).
//! Ferros adds `mode` ("AUTO"/"MANUAL"), `alarms` (a list of names),
//! `bypass` (1 while the safety status is bypassed, as seed 000's control
//! page asks the PLC to report) and `ack` (1 once the control room's night
//! ACK button was pressed) to that object; `{"name": "BYPASS", "value": 1|0}`
//! asks for the bypass or its end. Messages are JSON values one after the other on the stream; a
//! newline ends each one Ferros sends, and readers do not rely on it.

use chrono::{DateTime, NaiveDateTime, Utc};
use ferros_devices::{PlcMode, Reading, Sensor, SensorValue, WeatherStatus};
use serde_json::{Map, Value, json};

/// What is wrong in a message, and where in it (`STATUS.device[2]`, `"ra"`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("expected {{\"command\": [{{\"name\": ...}}]}}")]
    NotACommand,
    #[error("an empty command list")]
    NoCommand,
    #[error("a command without \"name\"")]
    NoName,
    #[error("the answer is not a JSON list")]
    NotAList,
    #[error("no STATUS object in the answer")]
    NoStatus,
    #[error("\"{0}\" is missing")]
    Missing(String),
    /// A parameter that should be a number (`found` as sent).
    #[error("\"{key}\" is {found}, not a number")]
    NotANumber { key: String, found: String },
    #[error("{at}: {what}")]
    Field { at: String, what: String },
}

impl WireError {
    pub fn field(at: impl Into<String>, what: impl Into<String>) -> WireError {
        WireError::Field { at: at.into(), what: what.into() }
    }

    /// The same error, found inside `outer` (`STATUS.device[1]`).
    fn inside(self, outer: &str) -> WireError {
        match self {
            WireError::Field { at, what } => WireError::field(format!("{outer}: {at}"), what),
            WireError::Missing(k) => WireError::field(outer, format!("\"{k}\" missing")),
            other => WireError::field(outer, other.to_string()),
        }
    }
}

/// The request for a status.
pub fn status_request() -> Value {
    json!({"command": [{"name": "STATUS"}]})
}

/// The names of the commands of a request, or why it is not one.
pub fn command_names(v: &Value) -> Result<Vec<String>, WireError> {
    let list = v.get("command").and_then(Value::as_array).ok_or(WireError::NotACommand)?;
    list.iter()
        .map(|c| c.get("name").and_then(Value::as_str).map(str::to_owned).ok_or(WireError::NoName))
        .collect()
}

/// A status in the seeds' form.
pub fn encode_status(s: &WeatherStatus, now: DateTime<Utc>) -> Value {
    let devices: Vec<Value> = s
        .sensors
        .iter()
        .map(|d| {
            json!({
                "name": d.name, "type": d.kind, "serial_number": d.serial_number,
                "valid": if d.valid { "yes" } else { "no" },
                "values": d.values.iter().map(|v| json!({
                    "name": v.name, "value": v.value, "unit": v.unit, "comment": v.comment,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mode = match s.mode {
        PlcMode::Auto => "AUTO",
        PlcMode::Manual => "MANUAL",
        PlcMode::Unknown => "UNKNOWN",
    };
    json!([{
        "name": "STATUS", "from": "Beckhoff", "version_firmware": "20170809", "site": "OSM-Mexico",
        "date": s.measured_at.unwrap_or(now).format("%Y-%m-%dT%H:%M:%S").to_string(),
        "mode": mode, "alarms": s.alarms, "bypass": u8::from(s.bypass), "ack": u8::from(s.night_ack),
        "device": devices,
    }])
}

/// Reads a PLC answer, saying what is wrong where.
pub fn decode_status(v: &Value) -> Result<WeatherStatus, WireError> {
    let list = v.as_array().ok_or(WireError::NotAList)?;
    let status = list
        .iter()
        .find(|o| o.get("name").and_then(Value::as_str) == Some("STATUS"))
        .and_then(Value::as_object)
        .ok_or(WireError::NoStatus)?;
    let measured_at = status
        .get("date")
        .and_then(Value::as_str)
        .map(|d| NaiveDateTime::parse_from_str(d, "%Y-%m-%dT%H:%M:%S").map(|t| t.and_utc()))
        .transpose()
        .map_err(|e| WireError::field("STATUS.date", e.to_string()))?;
    let mode = match status.get("mode").and_then(Value::as_str) {
        Some("AUTO") | None => PlcMode::Auto,
        Some("MANUAL") => PlcMode::Manual,
        Some(_) => PlcMode::Unknown,
    };
    let alarms = match status.get("alarms") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str().map(str::to_owned).ok_or_else(|| WireError::field("STATUS.alarms", "not a name"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(WireError::field("STATUS.alarms", "not a list")),
    };
    let bypass = flag(status, "bypass")?;
    let night_ack = flag(status, "ack")?;
    let devices = status
        .get("device")
        .and_then(Value::as_array)
        .ok_or_else(|| WireError::field("STATUS.device", "missing or not a list"))?;
    let sensors = devices
        .iter()
        .enumerate()
        .map(|(i, d)| sensor(d).map_err(|e| e.inside(&format!("STATUS.device[{i}]"))))
        .collect::<Result<_, _>>()?;
    Ok(WeatherStatus { mode, measured_at, sensors, alarms, bypass, night_ack })
}

/// An optional 0/1 (or false/true) flag of the STATUS object: absent is 0.
fn flag(o: &Map<String, Value>, k: &str) -> Result<bool, WireError> {
    match o.get(k) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) if v.as_u64() == Some(0) => Ok(false),
        Some(v) if v.as_u64() == Some(1) => Ok(true),
        Some(v) => Err(WireError::field(format!("STATUS.{k}"), format!("{v} is not 0 or 1"))),
    }
}

/// The request for the bypass (`on`) or its end.
pub fn bypass_request(on: bool) -> Value {
    json!({"command": [{"name": "BYPASS", "value": u8::from(on)}]})
}

fn text(o: &Map<String, Value>, k: &str) -> Result<String, WireError> {
    o.get(k)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| WireError::field(format!("\"{k}\""), "missing or not a string"))
}

fn sensor(d: &Value) -> Result<Sensor, WireError> {
    let o = d.as_object().ok_or_else(|| WireError::field("sensor", "not an object"))?;
    let valid = match text(o, "valid")?.as_str() {
        "yes" => true,
        "no" => false,
        other => return Err(WireError::field(format!("valid = \"{other}\""), "expected yes or no")),
    };
    let values = o
        .get("values")
        .and_then(Value::as_array)
        .ok_or_else(|| WireError::field("\"values\"", "missing or not a list"))?;
    let values = values
        .iter()
        .enumerate()
        .map(|(j, v)| {
            let at = format!("values[{j}]");
            let vo = v.as_object().ok_or_else(|| WireError::field(&at, "not an object"))?;
            let value = match vo.get("value") {
                Some(Value::Number(n)) => Reading::Number(n.as_f64().unwrap_or(f64::NAN)),
                Some(Value::String(s)) => Reading::Text(s.clone()),
                _ => return Err(WireError::field(format!("{at}.value"), "not a number or a string")),
            };
            Ok(SensorValue {
                name: text(vo, "name").map_err(|e| e.inside(&at))?,
                value,
                unit: text(vo, "unit").map_err(|e| e.inside(&at))?,
                comment: vo.get("comment").and_then(Value::as_str).unwrap_or_default().to_owned(),
            })
        })
        .collect::<Result<_, WireError>>()?;
    Ok(Sensor {
        name: text(o, "name")?,
        kind: text(o, "type")?,
        serial_number: text(o, "serial_number").unwrap_or_default(),
        valid,
        values,
    })
}
