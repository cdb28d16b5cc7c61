//! VOEvent 2.0 (and 1.1), the IVOA format of GCN's notices: the model of a
//! notice and its reader. `parse` checks the document and returns either a
//! [`VoEvent`] or an error naming what is missing or wrong, with the element
//! it was looked for in. No DTD is read; sizes and counts are capped
//! (`ferros_limits::MAX_VOEVENT_BYTES`, `MAX_VOEVENT_PARAMS`).

use chrono::{DateTime, NaiveDateTime, Utc};
use ferros_limits::{MAX_VOEVENT_BYTES, MAX_VOEVENT_PARAMS};
use roxmltree::{Document, Node, ParsingOptions};
use serde::{Deserialize, Serialize};

/// The namespaces of VOEvent 2.0 and 1.1.
pub const NAMESPACE_2_0: &str = "http://www.ivoa.net/xml/VOEvent/v2.0";
pub const NAMESPACE_1_1: &str = "http://www.ivoa.net/xml/VOEvent/v1.1";

/// Why a document is not a notice Ferros can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoEventError {
    #[error("{0} bytes: more than the {MAX_VOEVENT_BYTES} a notice may have")]
    TooLarge(usize),
    #[error("malformed XML: {0}")]
    Xml(String),
    #[error("the root element is <{0}>, not <VOEvent>")]
    NotVoEvent(String),
    #[error("{at}: missing {what}")]
    Missing { at: &'static str, what: &'static str },
    #[error("{at}: {why}")]
    Invalid { at: &'static str, why: String },
    #[error("more than {MAX_VOEVENT_PARAMS} params")]
    TooManyParams,
}

fn invalid(at: &'static str, why: impl Into<String>) -> VoEventError {
    VoEventError::Invalid { at, why: why.into() }
}

/// What a notice is: real, predicted, a utility message, or a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Observation,
    Prediction,
    Utility,
    Test,
}

impl std::str::FromStr for Role {
    type Err = VoEventError;

    fn from_str(s: &str) -> Result<Self, VoEventError> {
        match s {
            "observation" => Ok(Role::Observation),
            "prediction" => Ok(Role::Prediction),
            "utility" => Ok(Role::Utility),
            "test" => Ok(Role::Test),
            other => Err(invalid(
                "VOEvent",
                format!("role \"{other}\" is not one of observation, prediction, utility, test"),
            )),
        }
    }
}

/// Who wrote the notice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Who {
    pub author_ivorn: Option<String>,
    pub date: Option<DateTime<Utc>>,
    pub title: Option<String>,
    pub short_name: Option<String>,
    pub contact_name: Option<String>,
}

/// One `<Param>`, in `<What>` or in one of its `<Group>`s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    pub value: String,
    pub unit: Option<String>,
    pub ucd: Option<String>,
    /// The `<Group>` it is in, if any.
    pub group: Option<String>,
}

/// Where on the sky, J2000 (ICRS or FK5), and how well.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub ra_deg: f64,
    pub dec_deg: f64,
    /// The error circle's radius, degrees; `None` when not given or given
    /// as negative (GCN's "unknown", as SVOM/GRM notices send -1).
    pub error_deg: Option<f64>,
}

/// When and where the event was seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhereWhen {
    /// The coordinate system's id (`UTC-ICRS-GEO`, `UTC-FK5-GEO`).
    pub system: Option<String>,
    pub time: Option<DateTime<Utc>>,
    pub position: Option<Position>,
}

/// One `<Inference>` of `<Why>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inference {
    pub probability: Option<f64>,
    pub relation: Option<String>,
    pub names: Vec<String>,
    pub concepts: Vec<String>,
}

/// Why it matters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Why {
    pub importance: Option<f64>,
    pub inferences: Vec<Inference>,
}

/// How a notice relates to an earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cite {
    Followup,
    Supersedes,
    Retraction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Citation {
    pub ivorn: String,
    pub cite: Cite,
}

/// A notice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoEvent {
    pub ivorn: String,
    pub role: Role,
    pub version: String,
    pub who: Who,
    pub params: Vec<Param>,
    pub where_when: Option<WhereWhen>,
    /// `<How>`'s descriptions (instruments).
    pub how: Vec<String>,
    pub why: Option<Why>,
    pub citations: Vec<Citation>,
}

impl VoEvent {
    /// The first param named `name`, in What or any of its groups.
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// A param's value as a number, if it is one.
    pub fn number(&self, name: &str) -> Option<f64> {
        self.param(name).and_then(|p| p.value.trim().parse().ok()).filter(|v: &f64| v.is_finite())
    }

    /// The position, if the notice gives one.
    pub fn position(&self) -> Option<Position> {
        self.where_when.as_ref().and_then(|w| w.position)
    }

    /// Whether it retracts an earlier notice: cites one as `retraction`, or
    /// says so in its params (LVK's `AlertType`, SVOM's retraction notices).
    pub fn is_retraction(&self) -> bool {
        self.citations.iter().any(|c| c.cite == Cite::Retraction)
            || self.param("AlertType").is_some_and(|p| p.value.eq_ignore_ascii_case("retraction"))
    }
}

/// Reads a notice.
pub fn parse(xml: &str) -> Result<VoEvent, VoEventError> {
    if xml.len() > MAX_VOEVENT_BYTES {
        return Err(VoEventError::TooLarge(xml.len()));
    }
    let doc = Document::parse_with_options(xml, ParsingOptions { allow_dtd: false, ..Default::default() })
        .map_err(|e| VoEventError::Xml(e.to_string()))?;
    let root = doc.root_element();
    if root.tag_name().name() != "VOEvent" {
        return Err(VoEventError::NotVoEvent(root.tag_name().name().to_owned()));
    }
    match root.tag_name().namespace() {
        Some(NAMESPACE_2_0 | NAMESPACE_1_1) => {}
        Some(other) => {
            return Err(invalid(
                "VOEvent",
                format!("namespace \"{other}\" is not VOEvent's ({NAMESPACE_2_0} or {NAMESPACE_1_1})"),
            ));
        }
        None => {
            return Err(invalid(
                "VOEvent",
                format!("no namespace: a VOEvent is in {NAMESPACE_2_0} (or {NAMESPACE_1_1})"),
            ));
        }
    }
    let ivorn = root
        .attribute("ivorn")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(VoEventError::Missing { at: "VOEvent", what: "the ivorn attribute" })?;
    if !ivorn.starts_with("ivo://") {
        return Err(invalid("VOEvent", format!("ivorn \"{ivorn}\" does not begin with ivo://")));
    }
    let role = root.attribute("role").unwrap_or("observation").parse()?;
    let version = root.attribute("version").unwrap_or("2.0").to_owned();
    let who = child(root, "Who").map(who).transpose()?.unwrap_or_default();
    let params = match child(root, "What") {
        Some(what) => params(what)?,
        None => Vec::new(),
    };
    let where_when = child(root, "WhereWhen").map(where_when).transpose()?;
    let how = child(root, "How")
        .map(|h| children(h, "Description").filter_map(|d| text(d)).collect())
        .unwrap_or_default();
    let why = child(root, "Why").map(why).transpose()?;
    let citations = match child(root, "Citations") {
        Some(c) => citations(c)?,
        None => Vec::new(),
    };
    Ok(VoEvent { ivorn: ivorn.to_owned(), role, version, who, params, where_when, how, why, citations })
}

fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.children().find(|c| c.is_element() && c.tag_name().name() == name)
}

fn children<'a, 'i: 'a>(n: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    n.children().filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn text(n: Node<'_, '_>) -> Option<String> {
    n.text().map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned)
}

/// An ISO 8601 time as the notices write it: with or without a zone
/// (`Z`, `+00:00`), with or without fractions of a second; UTC.
pub fn iso_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f").ok().map(|t| t.and_utc())
}

fn who(n: Node<'_, '_>) -> Result<Who, VoEventError> {
    let date = match child(n, "Date").and_then(text) {
        Some(d) => Some(iso_time(&d).ok_or_else(|| invalid("Who/Date", format!("\"{d}\" is not a time")))?),
        None => None,
    };
    let author = child(n, "Author");
    let field = |name: &str| author.and_then(|a| child(a, name)).and_then(text);
    Ok(Who {
        author_ivorn: child(n, "AuthorIVORN").and_then(text),
        date,
        title: field("title"),
        short_name: field("shortName"),
        contact_name: field("contactName"),
    })
}

fn params(what: Node<'_, '_>) -> Result<Vec<Param>, VoEventError> {
    let mut out = Vec::new();
    let mut add = |p: Node<'_, '_>, group: Option<&str>| -> Result<(), VoEventError> {
        if out.len() == MAX_VOEVENT_PARAMS {
            return Err(VoEventError::TooManyParams);
        }
        let name = p.attribute("name").ok_or(VoEventError::Missing { at: "What/Param", what: "its name" })?;
        out.push(Param {
            name: name.to_owned(),
            value: p.attribute("value").unwrap_or_default().to_owned(),
            unit: p.attribute("unit").map(str::to_owned),
            ucd: p.attribute("ucd").map(str::to_owned),
            group: group.map(str::to_owned),
        });
        Ok(())
    };
    for c in what.children().filter(Node::is_element) {
        match c.tag_name().name() {
            "Param" => add(c, None)?,
            "Group" => {
                let group = c.attribute("name").or(c.attribute("type"));
                for p in children(c, "Param") {
                    add(p, group)?;
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn number(n: Node<'_, '_>, at: &'static str) -> Result<f64, VoEventError> {
    let t = text(n).ok_or(VoEventError::Missing { at, what: "a number" })?;
    t.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| invalid(at, format!("\"{t}\" is not a number")))
}

fn where_when(n: Node<'_, '_>) -> Result<WhereWhen, VoEventError> {
    let location = child(n, "ObsDataLocation").and_then(|d| child(d, "ObservationLocation"));
    let system = location
        .and_then(|l| child(l, "AstroCoordSystem"))
        .and_then(|s| s.attribute("id"))
        .map(str::to_owned);
    let coords = location.and_then(|l| child(l, "AstroCoords"));
    let time =
        match coords
            .and_then(|c| child(c, "Time"))
            .and_then(|t| child(t, "TimeInstant"))
            .and_then(|t| child(t, "ISOTime"))
            .and_then(text)
        {
            Some(t) => Some(iso_time(&t).ok_or_else(|| {
                invalid("WhereWhen/.../ISOTime", format!("\"{t}\" is not an ISO 8601 time"))
            })?),
            None => None,
        };
    let position = match coords.and_then(|c| child(c, "Position2D")) {
        None => None,
        Some(p) => {
            const AT: &str = "WhereWhen/.../Position2D";
            if let Some(s) = &system
                && !(s.contains("ICRS") || s.contains("FK5"))
            {
                return Err(invalid(
                    AT,
                    format!("coordinate system \"{s}\": only ICRS and FK5 (J2000) are read"),
                ));
            }
            let unit = p.attribute("unit").unwrap_or("deg");
            if unit != "deg" {
                return Err(invalid(AT, format!("unit \"{unit}\": only degrees are read")));
            }
            let value = child(p, "Value2").ok_or(VoEventError::Missing { at: AT, what: "Value2" })?;
            let c1 = child(value, "C1").ok_or(VoEventError::Missing { at: AT, what: "Value2/C1 (RA)" })?;
            let c2 = child(value, "C2").ok_or(VoEventError::Missing { at: AT, what: "Value2/C2 (Dec)" })?;
            let (ra, dec) = (number(c1, "Position2D/Value2/C1")?, number(c2, "Position2D/Value2/C2")?);
            if !(0.0..=360.0).contains(&ra) || !(-90.0..=90.0).contains(&dec) {
                return Err(invalid(AT, format!("RA {ra}, Dec {dec} is not a place on the sky")));
            }
            let error = match child(p, "Error2Radius") {
                Some(e) => Some(number(e, "Position2D/Error2Radius")?).filter(|r| *r >= 0.0),
                None => None,
            };
            if let Some(r) = error
                && r > 180.0
            {
                return Err(invalid(AT, format!("error radius {r} deg is more than 180")));
            }
            Some(Position { ra_deg: ra.rem_euclid(360.0), dec_deg: dec, error_deg: error })
        }
    };
    Ok(WhereWhen { system, time, position })
}

fn probability(n: Node<'_, '_>, name: &str, at: &'static str) -> Result<Option<f64>, VoEventError> {
    match n.attribute(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|p| (0.0..=1.0).contains(p))
            .map(Some)
            .ok_or_else(|| invalid(at, format!("{name} \"{v}\" is not in 0..1"))),
    }
}

fn why(n: Node<'_, '_>) -> Result<Why, VoEventError> {
    let importance = probability(n, "importance", "Why")?;
    let inferences = children(n, "Inference")
        .map(|i| {
            Ok(Inference {
                probability: probability(i, "probability", "Why/Inference")?,
                relation: i.attribute("relation").map(str::to_owned),
                names: children(i, "Name").filter_map(text).collect(),
                concepts: children(i, "Concept").filter_map(text).collect(),
            })
        })
        .collect::<Result<_, VoEventError>>()?;
    Ok(Why { importance, inferences })
}

fn citations(n: Node<'_, '_>) -> Result<Vec<Citation>, VoEventError> {
    children(n, "EventIVORN")
        .map(|e| {
            let ivorn =
                text(e).ok_or(VoEventError::Missing { at: "Citations/EventIVORN", what: "the ivorn" })?;
            let cite = match e.attribute("cite") {
                Some("followup") => Cite::Followup,
                Some("supersedes") => Cite::Supersedes,
                Some("retraction") => Cite::Retraction,
                Some(other) => {
                    return Err(invalid(
                        "Citations/EventIVORN",
                        format!("cite \"{other}\" is not one of followup, supersedes, retraction"),
                    ));
                }
                None => return Err(VoEventError::Missing { at: "Citations/EventIVORN", what: "its cite" }),
            };
            Ok(Citation { ivorn, cite })
        })
        .collect()
}
