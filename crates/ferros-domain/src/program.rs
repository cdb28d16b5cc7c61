//! Scientific programs (SP): who may observe, how urgently, and for how long.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::{DomainError, Priority, Seconds, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProgramId(pub i64);

impl fmt::Display for ProgramId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// An observing period of six months: `A` runs January to June, `B` July to
/// December (e.g. `2026B`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Period {
    year: i32,
    second_half: bool,
}

impl Period {
    pub fn containing(date: NaiveDate) -> Self {
        Self { year: date.year(), second_half: date.month() > 6 }
    }

    pub fn start(self) -> NaiveDate {
        let month = if self.second_half { 7 } else { 1 };
        NaiveDate::from_ymd_opt(self.year, month, 1).unwrap_or(NaiveDate::MIN)
    }

    /// The last day of the period.
    pub fn end(self) -> NaiveDate {
        let (month, day) = if self.second_half { (12, 31) } else { (6, 30) };
        NaiveDate::from_ymd_opt(self.year, month, day).unwrap_or(NaiveDate::MAX)
    }

    pub fn contains(self, date: NaiveDate) -> bool {
        (self.start()..=self.end()).contains(&date)
    }
}

impl FromStr for Period {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        let bad = || DomainError::invalid("period", format!("\"{s}\" is not a period like 2026A or 2026B"));
        let s = s.trim();
        if s.len() != 5 {
            return Err(bad());
        }
        let (year, half) = s.split_at(4);
        let year: i32 = year.parse().map_err(|_| bad())?;
        let second_half = match half {
            "A" | "a" => false,
            "B" | "b" => true,
            _ => return Err(bad()),
        };
        if !(1900..=9999).contains(&year) {
            return Err(bad());
        }
        Ok(Self { year, second_half })
    }
}

impl TryFrom<String> for Period {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, DomainError> {
        s.parse()
    }
}

impl From<Period> for String {
    fn from(p: Period) -> String {
        p.to_string()
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.year, if self.second_half { 'B' } else { 'A' })
    }
}

/// The TAC's grade of a proposal, which sets its program's priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grade {
    A,
    B,
    C,
}

impl Grade {
    pub fn priority(self) -> Priority {
        let p = match self {
            Grade::A => 10,
            Grade::B => 20,
            Grade::C => 30,
        };
        Priority::new(p).unwrap_or(Priority::ALERT)
    }
}

impl FromStr for Grade {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "A" => Ok(Grade::A),
            "B" => Ok(Grade::B),
            "C" => Ok(Grade::C),
            _ => Err(DomainError::unknown("grade", s, &["A", "B", "C"])),
        }
    }
}

/// What a new program is made of; the repository gives it an id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewProgram {
    pub name: String,
    pub description: String,
    pub period: Period,
    pub priority: Priority,
    /// Observing time granted for the period.
    pub quota: Seconds,
}

impl NewProgram {
    /// Checks the name: 1 to 64 characters, no control characters, not blank.
    pub fn validate_name(name: &str) -> Result<(), DomainError> {
        let trimmed = name.trim();
        if trimmed.is_empty() || trimmed.len() > 64 || trimmed != name || name.chars().any(char::is_control) {
            return Err(DomainError::invalid(
                "name",
                format!("\"{name}\" must be 1 to 64 characters without surrounding spaces"),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScientificProgram {
    pub id: ProgramId,
    pub name: String,
    pub description: String,
    pub pi: Option<UserId>,
    pub period: Period,
    pub priority: Priority,
    pub quota: Seconds,
    /// Observing time already charged to the program in its period.
    pub used: Seconds,
}

impl ScientificProgram {
    pub fn remaining_quota(&self) -> Seconds {
        self.quota.saturating_sub(self.used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_and_cover_half_years() {
        let p: Period = "2026B".parse().unwrap();
        assert_eq!(p.start(), NaiveDate::from_ymd_opt(2026, 7, 1).unwrap());
        assert_eq!(p.end(), NaiveDate::from_ymd_opt(2026, 12, 31).unwrap());
        assert_eq!(Period::containing(NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()).to_string(), "2026A");
        assert!("2026C".parse::<Period>().is_err());
        assert!("26B".parse::<Period>().is_err());
    }

    #[test]
    fn grades_map_to_priorities_and_quota_floors_at_zero() {
        assert!(Grade::A.priority() < Grade::C.priority());
        let sp = ScientificProgram {
            id: ProgramId(1),
            name: "GRB".into(),
            description: String::new(),
            pi: None,
            period: "2026B".parse().unwrap(),
            priority: Grade::A.priority(),
            quota: Seconds::from_hours("quota", 1.0).unwrap(),
            used: Seconds::from_hours("used", 2.0).unwrap(),
        };
        assert_eq!(sp.remaining_quota(), Seconds::ZERO);
        assert!(NewProgram::validate_name(" GRB").is_err());
        assert!(NewProgram::validate_name("").is_err());
        assert!(NewProgram::validate_name("GRB follow-up").is_ok());
    }
}
