//! Weather and site watch: the synthesis of the PLC's sensors that safety
//! decisions rest on (docs/environment.md).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum GlobalStatus {
    Safe,
    Unsafe,
}

impl GlobalStatus {
    pub fn label(self) -> &'static str {
        match self {
            GlobalStatus::Safe => "SAFE",
            GlobalStatus::Unsafe => "UNSAFE",
        }
    }
}

impl std::fmt::Display for GlobalStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// What one quantity (rain, wind, humidity...) means for safety.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Safe,
    Unsafe,
    /// No valid, fresh sensor: treated as unsafe by the global status.
    Unknown,
}

impl Decision {
    /// As serialized (`unsafe`).
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Safe => "safe",
            Decision::Unsafe => "unsafe",
            Decision::Unknown => "unknown",
        }
    }
}

/// The synthesis of one quantity: "rain = 5; it rains hard; secure = no".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantitySynthesis {
    pub name: String,
    pub value: Option<f64>,
    pub unit: String,
    pub interpretation: String,
    pub decision: Decision,
    /// The sensor the value comes from.
    pub sensor: Option<String>,
    /// Sensors that disagree with the others.
    pub suspects: Vec<String>,
    pub measured_at: Option<DateTime<Utc>>,
}

/// The latest weather (or site) synthesis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Watch {
    pub global_status: GlobalStatus,
    pub reasons: Vec<String>,
    pub updated: DateTime<Utc>,
    pub quantities: Vec<QuantitySynthesis>,
}

impl Watch {
    /// UNSAFE as soon as one quantity is unsafe or unknown, with the reasons.
    pub fn from_quantities(updated: DateTime<Utc>, quantities: Vec<QuantitySynthesis>) -> Self {
        let reasons: Vec<String> = quantities
            .iter()
            .filter(|q| q.decision != Decision::Safe)
            .map(|q| format!("{}: {}", q.name, q.interpretation))
            .collect();
        let global_status = if reasons.is_empty() { GlobalStatus::Safe } else { GlobalStatus::Unsafe };
        Self { global_status, reasons, updated, quantities }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(name: &str, decision: Decision) -> QuantitySynthesis {
        QuantitySynthesis {
            name: name.into(),
            value: Some(1.0),
            unit: String::new(),
            interpretation: format!("{name} reading"),
            decision,
            sensor: None,
            suspects: vec![],
            measured_at: None,
        }
    }

    #[test]
    fn any_unsafe_or_unknown_quantity_makes_the_watch_unsafe() {
        let now = Utc::now();
        assert_eq!(
            Watch::from_quantities(now, vec![q("rain", Decision::Safe)]).global_status,
            GlobalStatus::Safe
        );
        let w = Watch::from_quantities(now, vec![q("rain", Decision::Safe), q("wind", Decision::Unknown)]);
        assert_eq!(w.global_status, GlobalStatus::Unsafe);
        assert_eq!(w.reasons, vec!["wind: wind reading".to_owned()]);
    }
}
