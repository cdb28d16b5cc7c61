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

    /// The period after this one.
    pub fn next(self) -> Self {
        if self.second_half {
            Self { year: self.year + 1, second_half: false }
        } else {
            Self { second_half: true, ..self }
        }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Grade {
    A,
    B,
    C,
}

impl Grade {
    pub fn code(self) -> &'static str {
        match self {
            Grade::A => "A",
            Grade::B => "B",
            Grade::C => "C",
        }
    }

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

/// The observing time granted to a program for its period, as asked: a
/// length of time, a share of the period's night time, or what is left of
/// the period once the other programs have theirs (the default).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quota {
    Time(Seconds),
    /// Percent of the period's night time, 0 to 100.
    Percent(f64),
    Unallocated,
}

impl Quota {
    /// A share in percent, checked: 0 to 100.
    pub fn percent(p: f64) -> Result<Self, DomainError> {
        if p.is_finite() && (0.0..=100.0).contains(&p) {
            Ok(Quota::Percent(p))
        } else {
            Err(DomainError::invalid("quota", format!("{p} % is not a share of the period (0 to 100 %)")))
        }
    }

    /// The time this quota is in a period of `night` night time of which
    /// `others` is granted to the other programs.
    pub fn resolve(self, night: Seconds, others: Seconds) -> Seconds {
        match self {
            Quota::Time(t) => t,
            Quota::Percent(p) => Seconds::new("quota", night.get() * p / 100.0).unwrap_or(Seconds::ZERO),
            Quota::Unallocated => night.saturating_sub(others),
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
    pub quota: Quota,
}

/// What an edit of a program changes (`None`: unchanged).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProgramChanges {
    pub description: Option<String>,
    pub priority: Option<Priority>,
    pub quota: Option<Quota>,
    /// The program's PI (SP-PI), by user.
    pub pi: Option<UserId>,
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
    /// The night time of the program's period at the site (zero if unknown).
    pub period_night: Seconds,
}

impl ScientificProgram {
    pub fn remaining_quota(&self) -> Seconds {
        self.quota.saturating_sub(self.used)
    }

    /// The quota as a share of the period's night time, percent.
    pub fn quota_percent(&self) -> Option<f64> {
        share(self.quota, self.period_night)
    }
}

/// `part` as percent of `whole` (none for a zero whole).
pub fn share(part: Seconds, whole: Seconds) -> Option<f64> {
    (whole.get() > 0.0).then(|| 100.0 * part.get() / whole.get())
}

/// Observing time of a program, or of one member in it: charged for what
/// ran, and asked by the sequences submitted and not yet done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeUse {
    pub used: Seconds,
    pub asked: Seconds,
}

/// A program's quota in practice: the program's use and each member's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgramUsage {
    pub program: ScientificProgram,
    pub total: TimeUse,
    /// Each member's (and each other submitter's) use, by user name.
    pub members: Vec<(String, TimeUse)>,
}

impl ProgramUsage {
    /// What is left once used and asked time are counted.
    pub fn free(&self) -> Seconds {
        self.program.quota.saturating_sub(self.total.used + self.total.asked)
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
        assert_eq!(p.next().to_string(), "2027A");
        assert_eq!(p.next().next().to_string(), "2027B");
    }

    #[test]
    fn quotas_resolve_against_the_period() {
        let h = |v| Seconds::from_hours("t", v).unwrap();
        assert_eq!(Quota::percent(12.5).unwrap().resolve(h(1000.0), h(0.0)), h(125.0));
        assert_eq!(Quota::Unallocated.resolve(h(1000.0), h(700.0)), h(300.0));
        assert_eq!(Quota::Unallocated.resolve(h(1000.0), h(1200.0)), Seconds::ZERO);
        assert_eq!(Quota::Time(h(3.0)).resolve(h(1000.0), h(999.0)), h(3.0));
        assert!(Quota::percent(100.5).is_err());
        assert!(Quota::percent(f64::NAN).is_err());
        assert!(Quota::percent(-1.0).is_err());
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
            period_night: Seconds::from_hours("night", 4.0).unwrap(),
        };
        assert_eq!(sp.remaining_quota(), Seconds::ZERO);
        assert_eq!(sp.quota_percent(), Some(25.0));
        assert!(NewProgram::validate_name(" GRB").is_err());
        assert!(NewProgram::validate_name("").is_err());
        assert!(NewProgram::validate_name("GRB follow-up").is_ok());
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProposalId(pub i64);

impl fmt::Display for ProposalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// What an observer proposes for a coming period: the future program's
/// name and description, the hours asked, and the program it continues
/// (whose members it keeps), if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewProposal {
    pub name: String,
    pub description: String,
    pub period: Period,
    pub hours_asked: Seconds,
    pub continues: Option<String>,
}

impl NewProposal {
    /// Checks what the repository cannot: the name as a program's, the
    /// description's length and characters.
    pub fn validate(&self) -> Result<(), DomainError> {
        NewProgram::validate_name(&self.name)?;
        let d = &self.description;
        if d.trim().chars().count() < 10
            || d.chars().count() > 4_000
            || d.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(DomainError::invalid(
                "description",
                "say what the program observes and why, in 10 to 4000 characters",
            ));
        }
        if self.hours_asked.hours() > 10_000.0 {
            return Err(DomainError::invalid("hours", "at most 10000 hours are asked for a period"));
        }
        Ok(())
    }
}

/// A TAC member's grade of a proposal, with a comment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vote {
    pub voter: String,
    pub grade: Grade,
    pub comment: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A proposal with its votes and, once accepted, its program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub id: ProposalId,
    pub proposal: NewProposal,
    pub proposer: String,
    pub votes: Vec<Vote>,
    /// The program the PI made of it.
    pub program: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl Proposal {
    /// The TAC's grade: the median of the votes (the worse of the two
    /// middle ones), none without a vote.
    pub fn grade(&self) -> Option<Grade> {
        let mut g: Vec<Grade> = self.votes.iter().map(|v| v.grade).collect();
        g.sort_by_key(|g| g.priority());
        g.get(g.len() / 2).copied()
    }
}
