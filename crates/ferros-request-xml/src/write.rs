//! [`NewRequest`] -> XML, in the same format the reader takes. Times are written
//! as absolute Julian dates, so the document means the same thing whenever it is
//! read again.

use ferros_domain::{NewRequest, NewSequence, PlanSpec, RequestKind, Strategy};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, Event};

/// Writes a request document.
pub fn write_request(req: &NewRequest) -> String {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing into a Vec cannot fail.
    let _ = emit(&mut w, req);
    let mut out = String::from_utf8(w.into_inner()).unwrap_or_default();
    out.push('\n');
    out
}

fn num(v: f64) -> String {
    format!("{v}")
}

fn emit(w: &mut Writer<Vec<u8>>, req: &NewRequest) -> std::io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let mut el = BytesStart::new("request");
    el.push_attribute(("name", req.name.as_str()));
    el.push_attribute(("scientific_program", req.program.as_str()));
    el.push_attribute(("target_type", req.target_type.as_str()));
    if req.kind == RequestKind::Alert {
        el.push_attribute(("is_alert", "1"));
    }
    if req.strategy != Strategy::BestEffort {
        el.push_attribute(("strategy", req.strategy.code()));
    }
    w.write_event(Event::Start(el))?;
    for seq in &req.sequences {
        sequence(w, seq)?;
    }
    w.write_event(Event::End(BytesEnd::new("request")))?;
    Ok(())
}

fn sequence(w: &mut Writer<Vec<u8>>, seq: &NewSequence) -> std::io::Result<()> {
    let s = &seq.spec;
    let mut el = BytesStart::new("sequence");
    el.push_attribute(("name", s.name.as_str()));
    if let Some(t) = &s.target {
        el.push_attribute(("target", t.as_str()));
    }
    if let Some(c) = s.coordinates {
        el.push_attribute(("ra", num(c.ra.degrees()).as_str()));
        el.push_attribute(("dec", num(c.dec.degrees()).as_str()));
    }
    if let Some(t) = &s.target_coords {
        el.push_attribute(("target_coords", t.as_str()));
    }
    el.push_attribute(("jd1", num(s.jd1.days()).as_str()));
    el.push_attribute(("jd2", num(s.jd2.days()).as_str()));
    el.push_attribute(("duration", num(s.duration.get()).as_str()));
    el.push_attribute(("overhead", num(s.overhead.get()).as_str()));
    if let Some(tp) = s.t_prefered {
        el.push_attribute(("t_prefered", num(tp.days()).as_str()));
    }
    el.push_attribute(("priority", s.priority.get().to_string().as_str()));
    let c = &s.constraints;
    for (name, value) in [
        ("min_alt", c.min_altitude),
        ("max_airmass", c.max_airmass),
        ("min_moon_dist", c.min_moon_distance),
        ("max_sun_alt", c.max_sun_altitude),
    ] {
        if let Some(v) = value {
            el.push_attribute((name, num(v).as_str()));
        }
    }
    el.push_attribute(("mandatory", if s.mandatory { "1" } else { "0" }));
    el.push_attribute(("reportable", s.reportable_nights.to_string().as_str()));
    if seq.albums.is_empty() {
        return w.write_event(Event::Empty(el));
    }
    w.write_event(Event::Start(el))?;
    for album in &seq.albums {
        let mut a = BytesStart::new("album");
        a.push_attribute(("name", album.spec.name.as_str()));
        a.push_attribute(("detector", album.spec.detector.code()));
        if album.plans.is_empty() {
            w.write_event(Event::Empty(a))?;
            continue;
        }
        w.write_event(Event::Start(a))?;
        for p in &album.plans {
            plan(w, p)?;
        }
        w.write_event(Event::End(BytesEnd::new("album")))?;
    }
    w.write_event(Event::End(BytesEnd::new("sequence")))
}

fn plan(w: &mut Writer<Vec<u8>>, p: &PlanSpec) -> std::io::Result<()> {
    let mut el = BytesStart::new("plan");
    el.push_attribute(("name", p.name.as_str()));
    el.push_attribute(("filter", p.filter.as_str()));
    el.push_attribute(("exposure", num(p.exposure.get()).as_str()));
    el.push_attribute(("nb_images", p.nb_images.to_string().as_str()));
    el.push_attribute(("duration", num(p.duration.get()).as_str()));
    el.push_attribute(("binning", p.binning.to_string().as_str()));
    if let Some(win) = p.window {
        el.push_attribute(("window", win.to_string().as_str()));
    }
    el.push_attribute(("dithering", num(p.dithering).as_str()));
    w.write_event(Event::Empty(el))
}
