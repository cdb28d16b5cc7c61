//! The Sun's altitude at a site, computed at whole minutes and interpolated
//! in between: the agents ask for it at every step, and a full apparent
//! position each time would be most of their work. Over a minute the
//! altitude is a straight line to better than a thousandth of a degree.

use std::collections::VecDeque;
use std::sync::Mutex;

use ferros_domain::JulianDate;

use crate::{AstroError, Frame, Site};

/// Minutes kept: enough for every agent's "now" and "in ten minutes".
const KEPT: usize = 32;
const MINUTE_DAYS: f64 = 1.0 / 1440.0;

/// The Sun's altitude at one site, cached per minute.
#[derive(Debug)]
pub struct SunAltitudes {
    site: Site,
    nodes: Mutex<VecDeque<(i64, f64)>>,
}

impl SunAltitudes {
    pub fn new(site: Site) -> Self {
        Self { site, nodes: Mutex::new(VecDeque::with_capacity(KEPT)) }
    }

    pub fn site(&self) -> &Site {
        &self.site
    }

    /// The Sun's geometric altitude at `utc`, degrees.
    pub fn at(&self, utc: JulianDate) -> Result<f64, AstroError> {
        let minutes = utc.days() / MINUTE_DAYS;
        let m0 = minutes.floor();
        let f = minutes - m0;
        let a = self.node(m0 as i64)?;
        if f == 0.0 {
            return Ok(a);
        }
        let b = self.node(m0 as i64 + 1)?;
        Ok(a + (b - a) * f)
    }

    fn node(&self, minute: i64) -> Result<f64, AstroError> {
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&(_, alt)) = nodes.iter().find(|(m, _)| *m == minute) {
            return Ok(alt);
        }
        let jd = JulianDate::new(minute as f64 * MINUTE_DAYS)
            .map_err(|_| AstroError::DateOutOfRange(minute as f64 * MINUTE_DAYS))?;
        let alt = Frame::new(&self.site, jd)?.sun().horizontal.alt;
        if nodes.len() == KEPT {
            nodes.pop_front();
        }
        nodes.push_back((minute, alt));
        Ok(alt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolated_altitudes_match_the_exact_ones() {
        let site = Site::new(31.0447, -115.4637, 2790.0).unwrap();
        let sun = SunAltitudes::new(site);
        let mut worst = 0.0_f64;
        // A day and a half, every 37 s (never on a whole minute).
        for i in 0..3500 {
            let jd = JulianDate::new(2_461_002.0 + f64::from(i) * 37.0 / 86_400.0).unwrap();
            let exact = Frame::new(&site, jd).unwrap().sun().horizontal.alt;
            worst = worst.max((sun.at(jd).unwrap() - exact).abs());
        }
        assert!(worst < 1e-3, "worst difference {worst} deg");
    }

    #[test]
    fn dates_outside_the_range_are_errors() {
        let sun = SunAltitudes::new(Site::new(0.0, 0.0, 0.0).unwrap());
        assert!(matches!(sun.at(JulianDate::new(2_000_001.0).unwrap()), Err(AstroError::DateOutOfRange(_))));
    }
}
