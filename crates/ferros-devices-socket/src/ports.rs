//! The seeds' `socket_config.ini`: one section per device with its `ip` and
//! `port` (Telescope 5000, CameraVIS 5001, CameraNIR 5002, PLC 5003, Dome 5004).

use std::collections::BTreeMap;

/// The devices of the PyROS socket protocol and their default ports.
pub const DEFAULT_PORTS: [(&str, u16); 5] =
    [("Telescope", 5000), ("CameraVIS", 5001), ("CameraNIR", 5002), ("PLC", 5003), ("Dome", 5004)];

/// What is wrong in a `socket_config.ini`, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortsError {
    #[error("line {line}: {what}")]
    Line { line: usize, what: String },
    #[error("[{0}]: no port")]
    NoPort(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketConfig {
    /// Section name -> `ip:port`.
    addresses: BTreeMap<String, String>,
}

impl Default for SocketConfig {
    fn default() -> Self {
        let addresses =
            DEFAULT_PORTS.iter().map(|(d, p)| ((*d).to_owned(), format!("127.0.0.1:{p}"))).collect();
        Self { addresses }
    }
}

impl SocketConfig {
    /// Reads the file's text; sections it leaves out keep their defaults.
    /// Errors name the line.
    pub fn parse(text: &str) -> Result<SocketConfig, PortsError> {
        let mut config = SocketConfig::default();
        let mut section: Option<String> = None;
        let mut entries: BTreeMap<String, (Option<String>, Option<u16>)> = BTreeMap::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            let at = |what: String| PortsError::Line { line: n + 1, what };
            if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let name = name.trim();
                if name.is_empty() {
                    return Err(at("empty section name".into()));
                }
                section = Some(name.to_owned());
                entries.entry(name.to_owned()).or_default();
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(at(format!("expected key=value or [Section], found \"{line}\"")));
            };
            let Some(current) = &section else {
                return Err(at("a key before any [Section]".into()));
            };
            let entry = entries.entry(current.clone()).or_default();
            match key.trim() {
                "ip" => entry.0 = Some(value.trim().to_owned()),
                "port" => {
                    let port = value
                        .trim()
                        .parse::<u16>()
                        .map_err(|_| at(format!("port \"{}\" is not a port number", value.trim())))?;
                    entry.1 = Some(port);
                }
                other => return Err(at(format!("unknown key \"{other}\" (expected ip or port)"))),
            }
        }
        for (name, (ip, port)) in entries {
            let default_port = DEFAULT_PORTS.iter().find(|(d, _)| *d == name).map(|(_, p)| *p);
            let Some(port) = port.or(default_port) else {
                return Err(PortsError::NoPort(name));
            };
            config.addresses.insert(name, format!("{}:{port}", ip.unwrap_or_else(|| "127.0.0.1".into())));
        }
        Ok(config)
    }

    /// `ip:port` of a device section (`PLC`, `Telescope`...).
    pub fn address(&self, device: &str) -> Option<&str> {
        self.addresses.get(device).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_file_reads_and_errors_name_the_line() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/socket_config.ini"))
                .unwrap();
        let c = SocketConfig::parse(&text).unwrap();
        assert_eq!(c.address("PLC"), Some("127.0.0.1:5003"));
        assert_eq!(c.address("CameraNIR"), Some("127.0.0.1:5002"));
        let c = SocketConfig::parse("; mine\n[PLC]\nip = 10.0.0.5\n").unwrap();
        assert_eq!(c.address("PLC"), Some("10.0.0.5:5003"));
        assert_eq!(c.address("Dome"), Some("127.0.0.1:5004"), "defaults stay");
        assert_eq!(
            SocketConfig::parse("[PLC]\nport=99999\n").unwrap_err(),
            PortsError::Line { line: 2, what: "port \"99999\" is not a port number".into() }
        );
        assert_eq!(
            SocketConfig::parse("port=1\n").unwrap_err().to_string(),
            "line 1: a key before any [Section]"
        );
        assert!(
            SocketConfig::parse("[PLC]\nspeed=1\n")
                .unwrap_err()
                .to_string()
                .contains("unknown key \"speed\"")
        );
        assert!(
            SocketConfig::parse("[PLC\n").unwrap_err().to_string().starts_with("line 1: expected key=value")
        );
        assert_eq!(
            SocketConfig::parse("[Webcam]\nip=1.2.3.4\n").unwrap_err(),
            PortsError::NoPort("Webcam".into())
        );
    }
}
