//! How long it is night over many nights: the observing time of a period
//! (six months), from which the programs' quotas are shares. The Sun only,
//! sampled every hour from local noon to local noon and each crossing
//! of the night altitude refined to 0.05 s, like `NightSky`, without its
//! Moon and 10-minute frames (about a second for six months).

use chrono::NaiveDate;
use ferros_domain::JulianDate;

use crate::search::{grid, intervals_where};
use crate::{AstroError, Frame, Site, local_noon};

/// Steps per night (every hour: the Sun crosses a given altitude at most
/// twice a night, hours apart, outside the polar circles' edges).
const STEPS: usize = 24;

/// The most nights added up at once (a period is at most 184).
pub const MAX_NIGHTS: i64 = 400;

fn sun_altitude(site: &Site, t: f64) -> f64 {
    JulianDate::new(t)
        .ok()
        .and_then(|jd| Frame::new(site, jd).ok())
        .map_or(f64::NAN, |f| f.sun().horizontal.alt)
}

/// Seconds during which the Sun is below `night_altitude` degrees, summed
/// over the nights of `first` to `last` (each night from its local noon).
pub fn dark_seconds(
    site: &Site,
    first: NaiveDate,
    last: NaiveDate,
    night_altitude: f64,
) -> Result<f64, AstroError> {
    if !(-90.0..=90.0).contains(&night_altitude) {
        return Err(AstroError::invalid("night altitude", night_altitude, "-90..90 degrees"));
    }
    let nights = (last - first).num_days() + 1;
    if !(1..=MAX_NIGHTS).contains(&nights) {
        return Err(AstroError::invalid("nights", nights as f64, "1..400 nights"));
    }
    let mut total = 0.0;
    for k in 0..nights {
        let date = first + chrono::Duration::days(k);
        let start = local_noon(date, site.longitude());
        JulianDate::new(start).map_err(|_| AstroError::DateOutOfRange(start))?;
        let samples: Vec<(f64, f64)> = grid(start, start + 1.0, STEPS)
            .into_iter()
            .map(|t| (t, night_altitude - sun_altitude(site, t)))
            .collect();
        if samples.iter().any(|(_, v)| v.is_nan()) {
            return Err(AstroError::DateOutOfRange(start));
        }
        let dark = intervals_where(&samples, |t| night_altitude - sun_altitude(site, t));
        total += dark.iter().map(|(a, b)| b - a).sum::<f64>();
    }
    Ok(total * 86_400.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NightSky;

    #[test]
    fn a_nights_dark_time_is_the_night_skys() {
        let site = Site::new(31.0447, -115.4637, 2790.0).unwrap();
        for date in ["2026-01-15", "2026-06-21", "2026-12-06"] {
            let date: NaiveDate = date.parse().unwrap();
            let sky = NightSky::new(site, date, -12.0).unwrap();
            let expected: f64 =
                sky.dark().iter().map(|w| w.end.days() - w.start.days()).sum::<f64>() * 86_400.0;
            let got = dark_seconds(&site, date, date, -12.0).unwrap();
            assert!((got - expected).abs() < 0.5, "{date}: {got} s against {expected} s");
        }
    }

    #[test]
    fn a_period_adds_its_nights_and_bad_spans_are_refused() {
        let site = Site::new(31.0447, -115.4637, 2790.0).unwrap();
        let first: NaiveDate = "2026-07-01".parse().unwrap();
        let last: NaiveDate = "2026-12-31".parse().unwrap();
        let h = dark_seconds(&site, first, last, -12.0).unwrap() / 3600.0;
        // 184 nights of 8 to 12 hours at latitude 31 N.
        assert!((1500.0..2100.0).contains(&h), "{h} h");
        assert!(dark_seconds(&site, last, first, -12.0).is_err());
        assert!(dark_seconds(&site, first, last, -100.0).is_err());
        // Polar summer: no night at all.
        let pole = Site::new(80.0, 0.0, 0.0).unwrap();
        let june: NaiveDate = "2026-06-01".parse().unwrap();
        assert_eq!(dark_seconds(&pole, june, june + chrono::Duration::days(10), -12.0).unwrap(), 0.0);
    }
}
