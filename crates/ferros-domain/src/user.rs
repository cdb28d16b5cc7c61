//! Users, their profiles and the rights matrix of seed 000 ("Users management").

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{DomainError, ProgramId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub i64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A user profile, numbered as in the seeds (0 Visitor .. 7 SysAdmin).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Visitor,
    Tac,
    Observer,
    /// IE/IS: instrument engineer or scientist.
    Engineer,
    Operator,
    Superoperator,
    Pi,
    Sysadmin,
}

impl Profile {
    pub const ALL: [Profile; 8] = [
        Profile::Visitor,
        Profile::Tac,
        Profile::Observer,
        Profile::Engineer,
        Profile::Operator,
        Profile::Superoperator,
        Profile::Pi,
        Profile::Sysadmin,
    ];

    /// The stable name used in the database, the CLI and the API.
    pub fn code(self) -> &'static str {
        match self {
            Profile::Visitor => "visitor",
            Profile::Tac => "tac",
            Profile::Observer => "observer",
            Profile::Engineer => "engineer",
            Profile::Operator => "operator",
            Profile::Superoperator => "superoperator",
            Profile::Pi => "pi",
            Profile::Sysadmin => "sysadmin",
        }
    }

    /// The name shown to people, as in the seeds.
    pub fn label(self) -> &'static str {
        match self {
            Profile::Visitor => "Visitor",
            Profile::Tac => "TAC",
            Profile::Observer => "Observer",
            Profile::Engineer => "IE/IS",
            Profile::Operator => "Operator",
            Profile::Superoperator => "Superoperator",
            Profile::Pi => "PI",
            Profile::Sysadmin => "SysAdmin",
        }
    }

    /// Whether this profile holds a right (the "Blue" and "Green" cells of the matrix).
    pub fn allows(self, right: Right) -> bool {
        use Profile::*;
        use Right::*;
        match right {
            ViewWeather | ViewObservatory | ViewAlerts | ViewSchedule => true,
            ObservatoryControl | DeviceCommand | ChangeMode => {
                matches!(self, Engineer | Operator | Superoperator | Pi | Sysadmin)
            }
            // The matrix gives these to the operator alone: the one at the
            // site, who answers for its safety.
            NightAck | PlcBypass | LockObservatory => matches!(self, Operator),
            DeviceStatus => !matches!(self, Visitor | Tac),
            ViewProposals => !matches!(self, Visitor | Operator),
            EditProposal => matches!(self, Observer | Engineer | Superoperator | Pi | Sysadmin),
            VoteProposal => matches!(self, Tac),
            SetQuotaAndPriority | ManageUsers | ViewAllRequests | ViewAllImages => {
                matches!(self, Pi | Sysadmin)
            }
            SubmitRequest | ViewOwnImages => {
                matches!(self, Observer | Engineer | Superoperator | Pi | Sysadmin)
            }
            EditConfig => matches!(self, Superoperator | Pi | Sysadmin),
            // The agents, their heartbeats and logs: the staff.
            ViewSystem => matches!(self, Engineer | Operator | Superoperator | Pi | Sysadmin),
            // Everyone with an account sees and edits their own profile.
            OwnProfile => !matches!(self, Visitor),
            // Alert requests pre-empt everyone's work: the alert manager's
            // account (a superoperator) and those who answer for the night.
            SubmitAlertRequest => matches!(self, Superoperator | Pi | Sysadmin),
        }
    }
}

impl FromStr for Profile {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        let key = s.trim().to_ascii_lowercase();
        let found = match key.as_str() {
            "ie" | "is" | "ie/is" | "ieis" => Some(Profile::Engineer),
            "admin" => Some(Profile::Sysadmin),
            _ => Profile::ALL.into_iter().find(|p| p.code() == key || p.label().eq_ignore_ascii_case(&key)),
        };
        found.ok_or_else(|| DomainError::unknown("profile", s, &Profile::ALL.map(Profile::code)))
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The rights of the seeds' rights matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Right {
    ViewWeather,
    ViewObservatory,
    ViewAlerts,
    ViewSchedule,
    ObservatoryControl,
    NightAck,
    PlcBypass,
    /// LOCK and UNLOCK OBSERVATORY (the staff's lock).
    LockObservatory,
    ChangeMode,
    DeviceStatus,
    DeviceCommand,
    ViewProposals,
    EditProposal,
    VoteProposal,
    SetQuotaAndPriority,
    SubmitRequest,
    /// Create requests with `is_alert="1"`, which pre-empt every program.
    SubmitAlertRequest,
    ViewAllRequests,
    ViewOwnImages,
    ViewAllImages,
    ManageUsers,
    EditConfig,
    /// The System page: agents, heartbeats, restarts, logs.
    ViewSystem,
    /// One's own account: see it, change one's password.
    OwnProfile,
}

impl Right {
    pub const ALL: [Right; 24] = [
        Right::ViewWeather,
        Right::ViewObservatory,
        Right::ViewAlerts,
        Right::ViewSchedule,
        Right::ObservatoryControl,
        Right::NightAck,
        Right::PlcBypass,
        Right::LockObservatory,
        Right::ChangeMode,
        Right::DeviceStatus,
        Right::DeviceCommand,
        Right::ViewProposals,
        Right::EditProposal,
        Right::VoteProposal,
        Right::SetQuotaAndPriority,
        Right::SubmitRequest,
        Right::SubmitAlertRequest,
        Right::ViewAllRequests,
        Right::ViewOwnImages,
        Right::ViewAllImages,
        Right::ManageUsers,
        Right::EditConfig,
        Right::ViewSystem,
        Right::OwnProfile,
    ];
}

/// A user name: 1 to 64 letters, digits, `.`, `_`, `-` or `@`.
pub fn validate_username(name: &str) -> Result<(), DomainError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "username",
            format!("\"{name}\" must be 1 to 64 letters, digits, '.', '_', '-' or '@'"),
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub email: String,
    pub active: bool,
    /// Registered, waiting for a PI's activation.
    pub pending: bool,
    /// What the user said they intend to do, at registration.
    pub intentions: String,
    pub profiles: BTreeSet<Profile>,
    /// The programs this user may submit requests to.
    pub programs: BTreeSet<ProgramId>,
}

impl User {
    pub fn has(&self, right: Right) -> bool {
        self.active && self.profiles.iter().any(|p| p.allows(right))
    }

    /// May submit requests to `program`: an active member with a profile
    /// that submits, or a PI or SysAdmin (who see all requests).
    pub fn may_submit_to(&self, program: ProgramId) -> bool {
        self.has(Right::SubmitRequest)
            && (self.programs.contains(&program) || self.has(Right::ViewAllRequests))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse_from_codes_and_labels() {
        assert_eq!("IE/IS".parse::<Profile>().unwrap(), Profile::Engineer);
        assert_eq!("superoperator".parse::<Profile>().unwrap(), Profile::Superoperator);
        assert_eq!("PI".parse::<Profile>().unwrap(), Profile::Pi);
        let err = "wizard".parse::<Profile>().unwrap_err().to_string();
        assert!(err.contains("wizard") && err.contains("observer"), "{err}");
        for p in Profile::ALL {
            assert_eq!(p.code().parse::<Profile>().unwrap(), p);
        }
    }

    #[test]
    fn rights_follow_the_seed_matrix() {
        assert!(Profile::Visitor.allows(Right::ViewWeather));
        assert!(!Profile::Visitor.allows(Right::SubmitRequest));
        assert!(Profile::Operator.allows(Right::PlcBypass));
        assert!(!Profile::Engineer.allows(Right::PlcBypass));
        assert!(Profile::Engineer.allows(Right::ChangeMode));
        assert!(!Profile::Operator.allows(Right::SubmitRequest));
        assert!(Profile::Tac.allows(Right::VoteProposal));
        assert!(Profile::Pi.allows(Right::SetQuotaAndPriority));
    }

    #[test]
    fn usernames_are_checked() {
        assert!(validate_username("alice.b-1").is_ok());
        assert!(validate_username("").is_err());
        assert!(validate_username("a b").is_err());
    }
}
