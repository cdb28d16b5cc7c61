//! When twilight flats and the morning's calibrations are due.

use super::*;

/// When calibrations are due, from the Sun and the clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Twilight {
    /// The Sun's altitude now and in ten minutes, degrees.
    pub sun: f64,
    pub sun_later: f64,
}

impl Twilight {
    pub fn at(site: &Site, now: DateTime<Utc>) -> Option<Twilight> {
        let sun = crate::sun_altitude(site, now)?;
        let sun_later = crate::sun_altitude(site, now + TimeDelta::minutes(10))?;
        Some(Twilight { sun, sun_later })
    }

    /// Evening twilight, the Sun between `top` and `bottom` and setting.
    pub fn evening(&self, top: f64, bottom: f64) -> bool {
        self.sun_later < self.sun && self.sun <= top && self.sun > bottom
    }

    /// Morning, the Sun above `night` (the night is over) and below the horizon + 10 degrees.
    pub fn morning(&self, night: f64) -> bool {
        self.sun_later > self.sun && self.sun > night && self.sun < 10.0
    }
}

/// The evening twilight of the flats: the Sun setting between
/// `executor.flats_sun_altitude` and the night's altitude.
pub(super) fn evening(settings: &Settings, site: &Site, now: DateTime<Utc>) -> bool {
    Twilight::at(site, now)
        .is_some_and(|t| t.evening(settings.executor.flats_sun_altitude, settings.site.night_sun_altitude))
}

/// Whether twilight flats are due now: evening, and a filter still lacks its flats.
pub async fn flats_due(db: &Db, settings: &Settings, site: &Site, now: DateTime<Utc>) -> bool {
    !flats_wanted(db, settings, site, now).await.is_empty()
}

/// The evening flats still to take now: (detector, filter, how many), each
/// filter of `executor.flat_filters_*` until it has `flats_per_filter` from
/// this twilight; nothing outside the evening's window.
pub async fn flats_wanted(
    db: &Db,
    settings: &Settings,
    site: &Site,
    now: DateTime<Utc>,
) -> Vec<(Detector, String, u32)> {
    let x = &settings.executor;
    if x.flats_per_filter == 0 || !evening(settings, site, now) {
        return Vec::new();
    }
    // This evening's: the window lasts well under three hours.
    let Ok(taken) = db.images_by_filter_since(ImageKind::Flat, now - TimeDelta::hours(3)).await else {
        return Vec::new();
    };
    let mut wanted = Vec::new();
    for (det, filters) in [(Detector::Vis, &x.flat_filters_vis), (Detector::Nir, &x.flat_filters_nir)] {
        for f in filters {
            let have = taken
                .iter()
                .find(|(d, name, _)| d == det.code() && name == f)
                .map_or(0, |(_, _, n)| u32::try_from(*n).unwrap_or(u32::MAX));
            if have < x.flats_per_filter {
                wanted.push((det, f.clone(), x.flats_per_filter - have));
            }
        }
    }
    wanted
}

/// Whether the morning's bias and darks are due: morning, none taken in the last 6 hours.
pub(super) async fn calibrations_due(db: &Db, settings: &Settings, site: &Site, now: DateTime<Utc>) -> bool {
    let x = &settings.executor;
    if x.biases == 0 && x.darks_s.is_empty() {
        return false;
    }
    let Some(t) = Twilight::at(site, now) else { return false };
    if !t.morning(settings.site.night_sun_altitude) {
        return false;
    }
    let since = now - TimeDelta::hours(6);
    matches!(db.images_since(ImageKind::Bias, since).await, Ok(0))
        && matches!(db.images_since(ImageKind::Dark, since).await, Ok(0))
}
