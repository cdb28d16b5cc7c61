//! XML -> [`NewRequest`]: the whole document is checked, and every problem is
//! reported with its element path, line and column, before anything is built.

use ferros_domain::{
    AlbumSpec, Constraints, Coordinates, Detector, DomainError, JulianDate, NewAlbum, NewRequest,
    NewSequence, PlanSpec, PriorityModulation, Readouts, RequestKind, Seconds, SequenceSpec, Strategy,
    Wheels, Window,
};
use ferros_limits::ImportLimits;
use roxmltree::{Document, Node, ParsingOptions};

use crate::{Imported, Problem};

/// What the reader needs from outside: the instant `relative="1"` times
/// count from, the limits of a request, the cameras' readouts (every
/// plan's duration must budget one per image) and the filter wheels (a
/// plan's filter must be on its camera's wheel, when the wheel is known).
#[derive(Debug, Clone)]
pub struct ReadOptions {
    pub now: JulianDate,
    pub limits: ImportLimits,
    pub readouts: Readouts,
    pub wheels: Wheels,
}

impl ReadOptions {
    /// Times counted from `now`; the default limits, the simulated cameras'
    /// readouts, wheels not known (any filter is accepted).
    pub fn at(now: JulianDate) -> Self {
        Self { now, limits: ImportLimits::DEFAULT, readouts: Readouts::DEFAULT, wheels: Wheels::default() }
    }
}

const REQUEST_ATTRS: &[&str] =
    &["name", "scientific_program", "target_type", "is_alert", "submitted", "relative", "strategy"];
const SEQUENCE_ATTRS: &[&str] = &[
    "name",
    "jd1",
    "jd2",
    "duration",
    "overhead",
    "t_prefered",
    "priority",
    "ra",
    "dec",
    "target",
    "target_coords",
    "min_alt",
    "max_airmass",
    "min_moon_dist",
    "max_sun_alt",
    "mandatory",
    "reportable",
];
const ALBUM_ATTRS: &[&str] = &["name", "detector"];
const PLAN_ATTRS: &[&str] =
    &["name", "filter", "exposure", "nb_images", "duration", "binning", "window", "dithering"];

/// Parses and validates a request document.
pub fn read_request(xml: &str, opts: &ReadOptions) -> Result<Imported, Vec<Problem>> {
    let doc =
        match Document::parse_with_options(xml, ParsingOptions { allow_dtd: false, ..Default::default() }) {
            Ok(doc) => doc,
            Err(e) => {
                let pos = e.pos();
                return Err(vec![Problem {
                    line: pos.row,
                    column: pos.col,
                    path: String::new(),
                    message: format!("malformed XML: {e}"),
                }]);
            }
        };
    let mut r = Reader { doc: &doc, problems: Vec::new(), warnings: Vec::new(), relative: false, opts };
    let root = doc.root_element();
    if root.tag_name().name() != "request" {
        r.problem(
            root,
            root.tag_name().name(),
            format!("the root element must be <request>, not <{}>", root.tag_name().name()),
        );
        return Err(r.problems);
    }
    let read = r.request(root);
    match read {
        Some(imported) if r.problems.is_empty() => Ok(Imported { warnings: r.warnings, ..imported }),
        _ => Err(r.problems),
    }
}

struct Reader<'a, 'input> {
    doc: &'a Document<'input>,
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
    relative: bool,
    opts: &'a ReadOptions,
}

/// One element being read: its path and the node.
#[derive(Clone, Copy)]
struct El<'a, 'input, 'p> {
    node: Node<'a, 'input>,
    path: &'p str,
}

impl<'a, 'input> Reader<'a, 'input> {
    fn problem(&mut self, node: Node<'_, '_>, path: &str, message: String) {
        let pos = self.doc.text_pos_at(node.range().start);
        self.problems.push(Problem { line: pos.row, column: pos.col, path: path.to_owned(), message });
    }

    fn warning(&mut self, node: Node<'_, '_>, path: &str, message: String) {
        let pos = self.doc.text_pos_at(node.range().start);
        self.warnings.push(Problem { line: pos.row, column: pos.col, path: path.to_owned(), message });
    }

    fn domain(&mut self, el: El<'_, '_, '_>, e: DomainError) {
        self.problem(el.node, el.path, e.to_string());
    }

    /// Flags attributes this element does not know, values too long or with
    /// forbidden characters, and stray text.
    fn check_shape(&mut self, el: El<'_, '_, '_>, allowed: &[&str]) {
        for a in el.node.attributes() {
            let value = a.value();
            let chars = value.chars().count();
            let most = self.opts.limits.max_text_chars;
            if chars > most {
                self.problem(
                    el.node,
                    el.path,
                    format!("attribute \"{}\": {chars} characters, at most {most}", a.name()),
                );
            }
            if let Some((at, c, why)) = ferros_domain::text::first_forbidden(value) {
                self.problem(
                    el.node,
                    el.path,
                    format!("attribute \"{}\": character {} at {at} is {why}", a.name(), c.escape_unicode()),
                );
            }
            if !allowed.contains(&a.name()) || a.namespace().is_some() {
                self.problem(
                    el.node,
                    el.path,
                    format!("unknown attribute \"{}\" (known: {})", a.name(), allowed.join(", ")),
                );
            }
        }
        for child in el.node.children() {
            if child.is_text() && child.text().is_some_and(|t| !t.trim().is_empty()) {
                self.problem(child, el.path, "unexpected text inside the element".to_owned());
            }
        }
    }

    /// The child elements named `name`, with their paths; unknown children are flagged.
    fn children<'n>(&mut self, el: El<'n, 'input, '_>, name: &str) -> Vec<(Node<'n, 'input>, String)> {
        let l = &self.opts.limits;
        let max = match name {
            "sequence" => l.max_sequences,
            "album" => l.max_albums,
            _ => l.max_plans,
        };
        let mut out = Vec::new();
        for child in el.node.children().filter(Node::is_element) {
            let tag = child.tag_name().name();
            if tag == name && out.len() == max {
                self.problem(child, el.path, format!("more than {max} <{name}> here: at most {max}"));
                break;
            }
            if tag == name {
                let path = format!("{}/{}[{}]", el.path, name, out.len() + 1);
                out.push((child, path));
            } else {
                self.problem(child, el.path, format!("unexpected element <{tag}> (expected <{name}>)"));
            }
        }
        out
    }

    fn attr<'n>(&self, el: El<'n, 'input, '_>, name: &str) -> Option<&'n str> {
        el.node.attribute(name)
    }

    fn required<'n>(&mut self, el: El<'n, 'input, '_>, name: &str) -> Option<&'n str> {
        match self.attr(el, name) {
            Some(v) if !v.trim().is_empty() => Some(v),
            Some(_) => {
                self.problem(el.node, el.path, format!("attribute {name} must not be empty"));
                None
            }
            None => {
                self.problem(el.node, el.path, format!("missing attribute {name}"));
                None
            }
        }
    }

    fn number(&mut self, el: El<'_, 'input, '_>, name: &str, raw: &str) -> Option<f64> {
        match raw.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Some(v),
            _ => {
                self.problem(el.node, el.path, format!("attribute {name}: \"{raw}\" is not a number"));
                None
            }
        }
    }

    fn opt_number(&mut self, el: El<'_, 'input, '_>, name: &str) -> Option<Option<f64>> {
        match self.attr(el, name) {
            None => Some(None),
            Some(raw) => self.number(el, name, raw).map(Some),
        }
    }

    fn opt_integer(&mut self, el: El<'_, 'input, '_>, name: &str) -> Option<Option<i64>> {
        match self.attr(el, name) {
            None => Some(None),
            Some(raw) => match raw.trim().parse::<i64>() {
                Ok(v) => Some(Some(v)),
                Err(_) => {
                    self.problem(el.node, el.path, format!("attribute {name}: \"{raw}\" is not an integer"));
                    None
                }
            },
        }
    }

    fn opt_bool(&mut self, el: El<'_, 'input, '_>, name: &str) -> Option<bool> {
        match self.attr(el, name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Some(false),
            Some(v) => match v.as_str() {
                "1" | "true" | "yes" => Some(true),
                "0" | "false" | "no" => Some(false),
                _ => {
                    self.problem(
                        el.node,
                        el.path,
                        format!("attribute {name}: \"{v}\" is not a boolean (1/0, true/false)"),
                    );
                    None
                }
            },
        }
    }

    fn seconds(&mut self, el: El<'_, 'input, '_>, name: &'static str, v: f64) -> Option<Seconds> {
        Seconds::new(name, v).map_err(|e| self.domain(el, e)).ok()
    }

    /// A time attribute: a Julian date, or seconds from now when `relative="1"`.
    fn time(&mut self, el: El<'_, 'input, '_>, name: &'static str, v: f64) -> Option<JulianDate> {
        let jd = if self.relative { self.opts.now.plus_seconds(v) } else { JulianDate::new(v) };
        jd.map_err(|e| {
            let hint = if self.relative { " (relative=\"1\": seconds from now)" } else { "" };
            self.problem(el.node, el.path, format!("attribute {name}: {e}{hint}"));
        })
        .ok()
    }

    fn request(&mut self, node: Node<'_, 'input>) -> Option<Imported> {
        let el = El { node, path: "request" };
        self.check_shape(el, REQUEST_ATTRS);
        self.relative = self.opt_bool(el, "relative").unwrap_or(false);
        let name = self.required(el, "name").map(str::to_owned);
        let program = self.required(el, "scientific_program").map(str::to_owned);
        let target_type = self.attr(el, "target_type").unwrap_or_default().to_owned();
        let is_alert = self.opt_bool(el, "is_alert");
        let submit = self.opt_bool(el, "submitted");
        let strategy = match self.attr(el, "strategy") {
            None => Some(Strategy::default()),
            Some(s) => s.parse::<Strategy>().map_err(|e| self.domain(el, e)).ok(),
        };
        let seq_nodes = self.children(el, "sequence");
        if seq_nodes.is_empty() {
            self.problem(node, "request", "a request needs at least one <sequence>".to_owned());
        }
        let sequences: Vec<Option<NewSequence>> =
            seq_nodes.iter().map(|(n, p)| self.sequence(*n, p)).collect();
        let sequences: Option<Vec<NewSequence>> = sequences.into_iter().collect();
        let kind = if is_alert? { RequestKind::Alert } else { RequestKind::Routine };
        Some(Imported {
            request: NewRequest {
                name: name?,
                program: program?,
                target_type,
                kind,
                strategy: strategy?,
                sequences: sequences?,
            },
            submit: submit?,
            warnings: Vec::new(),
        })
    }

    fn sequence(&mut self, node: Node<'_, 'input>, path: &str) -> Option<NewSequence> {
        let el = El { node, path };
        self.check_shape(el, SEQUENCE_ATTRS);
        let name = self.required(el, "name").map(str::to_owned);
        let jd1 = self
            .required(el, "jd1")
            .and_then(|raw| self.number(el, "jd1", raw))
            .and_then(|v| self.time(el, "jd1", v));
        let jd2 = self
            .required(el, "jd2")
            .and_then(|raw| self.number(el, "jd2", raw))
            .and_then(|v| self.time(el, "jd2", v));
        let duration = self.opt_number(el, "duration");
        let overhead =
            self.opt_number(el, "overhead").and_then(|o| self.seconds(el, "overhead", o.unwrap_or(0.0)));
        // PyROS writes t_prefered = -1 for "no preferred time".
        let t_prefered = match self.opt_number(el, "t_prefered") {
            Some(Some(v)) if v >= 0.0 => self.time(el, "t_prefered", v).map(Some),
            Some(_) => Some(None),
            None => None,
        };
        let priority = self.opt_integer(el, "priority").and_then(|p| {
            let p = p.unwrap_or(0);
            // Values beyond i32 are out of range all the same; report them as given.
            let checked =
                i32::try_from(p).map_err(|_| DomainError::out_of_range("priority", p as f64, "-5..=5"));
            checked.and_then(PriorityModulation::new).map_err(|e| self.domain(el, e)).ok()
        });
        let coords = self.coordinates(el);
        let constraints = self.constraints(el);
        let mandatory = self.opt_bool(el, "mandatory");
        let reportable = match self.opt_integer(el, "reportable") {
            Some(Some(n)) if (0..=i64::from(SequenceSpec::MAX_REPORTABLE_NIGHTS)).contains(&n) => {
                Some(n as u8)
            }
            Some(None) => Some(0),
            Some(Some(n)) => {
                self.problem(
                    node,
                    path,
                    format!("attribute reportable: {n} is out of range (expected 0..=7 nights)"),
                );
                None
            }
            None => None,
        };
        let target = self.attr(el, "target").map(str::to_owned);
        // The window is checked here so its problems show even when an album has others.
        let window_ok = match (jd1, jd2, t_prefered) {
            (Some(a), Some(b), _) if b <= a => {
                self.problem(node, path, format!("jd2 = {b} must be after jd1 = {a}"));
                None
            }
            (Some(a), Some(b), Some(Some(tp))) if !(a..=b).contains(&tp) => {
                self.problem(
                    node,
                    path,
                    format!("t_prefered = {tp} is outside the window jd1..jd2 = {a}..{b}"),
                );
                None
            }
            _ => Some(()),
        };

        let album_nodes = self.children(el, "album");
        let albums: Option<Vec<NewAlbum>> =
            album_nodes.iter().map(|(n, p)| self.album(*n, p)).collect::<Vec<_>>().into_iter().collect();
        let albums = albums?;
        window_ok?;
        if albums.is_empty() {
            self.warning(
                node,
                path,
                "no <album>: the sequence is INCOMPLETE and cannot be submitted".to_owned(),
            );
        }
        let (coordinates, target_coords) = coords?;
        let mut seq = NewSequence {
            spec: SequenceSpec {
                name: name?,
                target,
                coordinates,
                target_coords,
                jd1: jd1?,
                jd2: jd2?,
                duration: Seconds::ZERO,
                overhead: overhead?,
                t_prefered: t_prefered?,
                priority: priority?,
                constraints: constraints?,
                mandatory: mandatory?,
                reportable_nights: reportable?,
            },
            albums,
        };
        // Roll the albums' time up into the sequence, as PyROS does.
        let needed = seq.albums_duration();
        seq.spec.duration = match duration? {
            Some(d) => {
                let given = self.seconds(el, "duration", d)?;
                if given.get() + 1e-9 < needed.get() {
                    self.problem(
                        node,
                        path,
                        format!(
                            "attribute duration: {d} s is shorter than its longest album ({} s)",
                            needed.get()
                        ),
                    );
                    return None;
                }
                given
            }
            None => needed,
        };
        if seq.spec.duration.is_zero() {
            self.problem(
                node,
                path,
                "the sequence has no duration: give duration=\"..\" or albums with plans".to_owned(),
            );
            return None;
        }
        seq.spec.validate().map_err(|e| self.domain(el, e)).ok()?;
        Some(seq)
    }

    /// `ra`/`dec` in degrees, or the seeds' `target_coords` ("RA Dec", degrees
    /// or sexagesimal). Other `target_coords` text is kept, with a warning.
    #[allow(clippy::type_complexity)]
    fn coordinates(&mut self, el: El<'_, 'input, '_>) -> Option<(Option<Coordinates>, Option<String>)> {
        let ra = self.opt_number(el, "ra")?;
        let dec = self.opt_number(el, "dec")?;
        let text = self.attr(el, "target_coords");
        match (ra, dec, text) {
            (Some(_), Some(_), Some(_)) => {
                self.problem(el.node, el.path, "give either ra/dec or target_coords, not both".to_owned());
                None
            }
            (Some(ra), Some(dec), None) => {
                Coordinates::new(ra, dec).map(|c| (Some(c), None)).map_err(|e| self.domain(el, e)).ok()
            }
            (Some(_), None, _) => {
                self.problem(el.node, el.path, "attribute ra is given without dec".to_owned());
                None
            }
            (None, Some(_), _) => {
                self.problem(el.node, el.path, "attribute dec is given without ra".to_owned());
                None
            }
            (None, None, Some(text)) => match parse_coordinates(text) {
                Some(Ok(c)) => Some((Some(c), None)),
                Some(Err(e)) => {
                    self.problem(el.node, el.path, format!("attribute target_coords: {e}"));
                    None
                }
                None => {
                    self.warning(
                        el.node,
                        el.path,
                        format!("target_coords=\"{text}\" is not an \"RA Dec\" pair: kept as text, the sequence does not point"),
                    );
                    Some((None, Some(text.to_owned())))
                }
            },
            (None, None, None) => Some((None, None)),
        }
    }

    fn constraints(&mut self, el: El<'_, 'input, '_>) -> Option<Constraints> {
        let c = Constraints {
            min_altitude: self.opt_number(el, "min_alt")?,
            max_airmass: self.opt_number(el, "max_airmass")?,
            min_moon_distance: self.opt_number(el, "min_moon_dist")?,
            max_sun_altitude: self.opt_number(el, "max_sun_alt")?,
        };
        c.validate().map_err(|e| self.domain(el, e)).ok()?;
        Some(c)
    }

    fn album(&mut self, node: Node<'_, 'input>, path: &str) -> Option<NewAlbum> {
        let el = El { node, path };
        self.check_shape(el, ALBUM_ATTRS);
        let name = self.required(el, "name").map(str::to_owned);
        let detector = self
            .required(el, "detector")
            .and_then(|d| d.parse::<Detector>().map_err(|e| self.domain(el, e)).ok());
        let plan_nodes = self.children(el, "plan");
        if plan_nodes.is_empty() {
            self.warning(
                node,
                path,
                "no <plan>: the sequence is INCOMPLETE and cannot be submitted".to_owned(),
            );
        }
        let plans: Option<Vec<PlanSpec>> = plan_nodes
            .iter()
            .map(|(n, p)| self.plan(*n, p, detector))
            .collect::<Vec<_>>()
            .into_iter()
            .collect();
        Some(NewAlbum { spec: AlbumSpec { name: name?, detector: detector? }, plans: plans? })
    }

    fn plan(&mut self, node: Node<'_, 'input>, path: &str, detector: Option<Detector>) -> Option<PlanSpec> {
        let el = El { node, path };
        self.check_shape(el, PLAN_ATTRS);
        let name = self.required(el, "name").map(str::to_owned);
        let filter = self.required(el, "filter").map(str::to_owned);
        let nb_images = match self.required(el, "nb_images").map(|raw| (raw, raw.trim().parse::<i64>())) {
            Some((_, Ok(n))) if n > 0 && n <= i64::from(self.opts.limits.max_images) => u32::try_from(n).ok(),
            Some((_, Ok(n))) => {
                let most = self.opts.limits.max_images;
                self.problem(
                    node,
                    path,
                    format!("attribute nb_images: {n} is out of range (expected 1..={most})"),
                );
                None
            }
            Some((raw, Err(_))) => {
                self.problem(node, path, format!("attribute nb_images: \"{raw}\" is not an integer"));
                None
            }
            None => None,
        };
        let exposure = self.opt_number(el, "exposure");
        let duration = self.opt_number(el, "duration");
        let binning = match self.opt_integer(el, "binning") {
            Some(None) => Some(1u8),
            Some(Some(b)) if (1..=8).contains(&b) => Some(b as u8),
            Some(Some(b)) => {
                self.problem(node, path, format!("attribute binning: {b} is out of range (expected 1..=8)"));
                None
            }
            None => None,
        };
        let window = match self.attr(el, "window") {
            None => Some(None),
            Some(w) => w.parse::<Window>().map(Some).map_err(|e| self.domain(el, e)).ok(),
        };
        let dithering = self.opt_number(el, "dithering");
        let nb = nb_images?;
        let bin = binning?;
        // Every image costs its readout beyond its exposure.
        let readout = detector.map_or(0.0, |d| self.opts.readouts.of(d, bin));
        let (exposure, duration) = match (exposure?, duration?) {
            (Some(e), Some(d)) => (e, d),
            (Some(e), None) => (e, (e + readout) * f64::from(nb)),
            (None, Some(d)) => {
                let e = d / f64::from(nb) - readout;
                if e < 0.0 {
                    self.problem(
                        node,
                        path,
                        format!(
                            "attribute duration: {d} s leaves no exposure time: {nb} images x {readout} s of readout take longer"
                        ),
                    );
                    return None;
                }
                (e, d)
            }
            (None, None) => {
                self.problem(
                    node,
                    path,
                    "a plan needs exposure=\"..\" (per image) or duration=\"..\" (total)".to_owned(),
                );
                return None;
            }
        };
        let spec = PlanSpec {
            name: name?,
            filter: filter?,
            exposure: self.seconds(el, "exposure", exposure)?,
            nb_images: nb,
            binning: bin,
            window: window?,
            dithering: dithering?.unwrap_or(0.0),
            duration: self.seconds(el, "duration", duration)?,
        };
        spec.validate().map_err(|e| self.domain(el, e)).ok()?;
        let lacks = detector.and_then(|d| self.opts.wheels.of(d).lacks(&spec.filter));
        if let Some(why) = &lacks {
            self.problem(node, path, format!("attribute filter: {why}"));
        }
        // The executor ends a plan at its block's end: a duration without
        // the readouts would lose the last images (or, unchecked, never end).
        let needed = spec.needed(readout);
        if spec.duration.get() + 1e-6 < needed {
            self.problem(
                node,
                path,
                format!(
                    "attribute duration: {} s is shorter than nb_images x (exposure + readout) = {} x ({} + {readout}) s = {needed} s",
                    spec.duration.get(),
                    spec.nb_images,
                    spec.exposure.get()
                ),
            );
            return None;
        }
        lacks.is_none().then_some(spec)
    }
}

/// Reads "RA Dec" in degrees ("10.68 41.27", "10.68,41.27") or sexagesimal
/// ("00:42:44.3 +41:16:09", RA in hours). `None` when the text is not a pair.
pub fn parse_coordinates(text: &str) -> Option<Result<Coordinates, DomainError>> {
    let parts: Vec<&str> =
        text.split(|c: char| c.is_whitespace() || c == ',').filter(|p| !p.is_empty()).collect();
    let [ra, dec] = parts[..] else { return None };
    if ra.contains(':') || dec.contains(':') {
        let ra_h = sexagesimal(ra)?;
        let dec_d = sexagesimal(dec)?;
        return Some(Coordinates::new(ra_h * 15.0, dec_d));
    }
    let ra: f64 = ra.parse().ok()?;
    let dec: f64 = dec.parse().ok()?;
    Some(Coordinates::new(ra, dec))
}

fn sexagesimal(s: &str) -> Option<f64> {
    let (sign, body) = match s.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, s.strip_prefix('+').unwrap_or(s)),
    };
    let fields: Vec<f64> = body.split(':').map(|f| f.parse::<f64>().ok()).collect::<Option<_>>()?;
    let (d, m, sec) = match fields[..] {
        [d, m, s] => (d, m, s),
        [d, m] => (d, m, 0.0),
        _ => return None,
    };
    if !(0.0..60.0).contains(&m) || !(0.0..60.0).contains(&sec) || d < 0.0 {
        return None;
    }
    Some(sign * (d + m / 60.0 + sec / 3600.0))
}
