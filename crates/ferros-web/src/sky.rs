//! Tonight's sky for the pages: each sequence's visibility windows (its
//! constraints inside its jd1..jd2, the same rules the planner uses) and a
//! target's altitude through the night. The ephemerides of one night are
//! computed once, off the async workers, and kept until the next night.

use std::sync::Arc;

use chrono::NaiveDate;
use ferros_astro::{Limits, NightSky, Site, altitude_floor, night_of};
use ferros_domain::{JulianDate, SequenceSpec};

use crate::AppState;
use crate::problem::Problem;

/// Where the observatory is, for the visibility charts.
#[derive(Debug, Clone, Copy)]
pub struct SkySettings {
    pub site: Site,
    /// The Sun's altitude below which it is night (degrees).
    pub night_altitude: f64,
    /// The site's horizon (degrees), the lowest altitude observed.
    pub horizon: f64,
}

/// The last night computed.
#[derive(Debug, Default)]
pub struct Cache(std::sync::Mutex<Option<(NaiveDate, Arc<NightSky>)>>);

/// Tonight's sky (the night the clock's now belongs to), or `None` without
/// a site configured.
pub async fn tonight(state: &AppState) -> Result<Option<(Arc<NightSky>, SkySettings)>, Problem> {
    let Some(settings) = state.inner.settings.sky else { return Ok(None) };
    let now =
        JulianDate::from_datetime(state.clock().now()).map_err(|e| Problem::internal("the clock", e))?;
    let date = night_of(now, settings.site.longitude());
    let cache = &state.inner.sky;
    if let Some((d, sky)) = cache.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_ref()
        && *d == date
    {
        return Ok(Some((sky.clone(), settings)));
    }
    let sky =
        tokio::task::spawn_blocking(move || NightSky::new(settings.site, date, settings.night_altitude))
            .await
            .map_err(|e| Problem::internal("tonight's ephemerides", e))?
            .map_err(|e| Problem::internal("tonight's ephemerides", e))?;
    let sky = Arc::new(sky);
    *cache.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((date, sky.clone()));
    Ok(Some((sky, settings)))
}

/// Unix milliseconds of a Julian date.
pub fn ms(j: JulianDate) -> i64 {
    j.to_datetime().timestamp_millis()
}

/// The night's dark span (Unix ms), if the Sun sets at all.
pub fn dark_span(sky: &NightSky) -> Option<(i64, i64)> {
    let dark = sky.dark();
    Some((ms(dark.first()?.start), ms(dark.last()?.end)))
}

/// When tonight a sequence may be observed: its constraints, within its
/// jd1..jd2, above the site's horizon (Unix ms spans). None without coordinates.
pub fn windows(sky: &NightSky, settings: SkySettings, spec: &SequenceSpec) -> Vec<(i64, i64)> {
    let Some(c) = spec.coordinates else { return Vec::new() };
    let mut limits = Limits::from(&spec.constraints);
    limits.min_altitude = Some(altitude_floor(spec.constraints.min_altitude, settings.horizon));
    limits.between = Some((spec.jd1.days(), spec.jd2.days()));
    sky.windows(c, &limits).iter().map(|w| (ms(w.start), ms(w.end))).collect()
}

/// The altitude (degrees) of a sequence's target every 10 minutes through
/// tonight's dark span, as chart points.
pub fn altitudes(sky: &NightSky, spec: &SequenceSpec) -> Vec<crate::svg::Point> {
    let (Some(c), Some((start, end))) = (spec.coordinates, dark_span(sky)) else { return Vec::new() };
    let p = sky.apparent(c);
    let step = 600_000;
    (0..)
        .map(|k| start + k * step)
        .take_while(|t| *t <= end)
        .map(|t| {
            let jd = 2_440_587.5 + t as f64 / 86_400_000.0;
            let alt = sky.horizontal(p, jd).alt;
            (t, alt, alt, alt)
        })
        .collect()
}
