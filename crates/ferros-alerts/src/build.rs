//! An alert request from a notice and its strategy: one sequence per
//! pointing (one, or the tiles covering a large error circle), one album per
//! camera the ladder uses, one plan per step of the ladder.

use chrono::{DateTime, TimeDelta, Utc};
use ferros_domain::{
    AlbumSpec, Constraints, Coordinates, Detector, JulianDate, NewAlbum, NewRequest, NewSequence, PlanSpec,
    PriorityModulation, Readouts, RequestKind, Seconds, SequenceSpec, Strategy as Execution,
};

use crate::facts::Facts;
use crate::strategy::{LargeError, Step, Strategy};

/// What building needs beside the notice and the strategy.
#[derive(Debug, Clone)]
pub struct BuildContext<'a> {
    pub now: DateTime<Utc>,
    /// The program alert requests are charged to.
    pub program: &'a str,
    pub readouts: Readouts,
    /// The field of view both cameras share, degrees.
    pub field_of_view_deg: f64,
}

/// The pointings that cover a circle of `radius` degrees around `centre`
/// with fields of `fov` degrees overlapping by a tenth, nearest the centre
/// first; `None` when more than `max` are needed.
pub fn tiles(centre: Coordinates, radius: f64, fov: f64, max: usize) -> Result<Vec<Coordinates>, usize> {
    if radius <= fov / 2.0 {
        return Ok(vec![centre]);
    }
    let step = fov * 0.9;
    let n = (radius / step).ceil() as i64 + 1;
    let mut offsets: Vec<(f64, f64)> = Vec::new();
    for i in -n..=n {
        for j in -n..=n {
            let (x, y) = (i as f64 * step, j as f64 * step);
            // The tile's square reaches the circle when its nearest point is inside it.
            let dx = (x.abs() - step / 2.0).max(0.0);
            let dy = (y.abs() - step / 2.0).max(0.0);
            if dx.hypot(dy) < radius {
                offsets.push((x, y));
            }
        }
    }
    if offsets.len() > max {
        return Err(offsets.len());
    }
    offsets.sort_by(|a, b| {
        a.0.hypot(a.1).total_cmp(&b.0.hypot(b.1)).then(a.0.total_cmp(&b.0)).then(a.1.total_cmp(&b.1))
    });
    Ok(offsets.into_iter().map(|(x, y)| offset(centre, x, y)).collect())
}

/// The position `x` degrees east and `y` degrees north of `c` on the tangent plane.
fn offset(c: Coordinates, x: f64, y: f64) -> Coordinates {
    if x == 0.0 && y == 0.0 {
        return c;
    }
    let (a0, d0) = (c.ra.degrees().to_radians(), c.dec.degrees().to_radians());
    let (xi, eta) = (x.to_radians(), y.to_radians());
    let denom = d0.cos() - eta * d0.sin();
    let ra = (a0 + xi.atan2(denom)).to_degrees().rem_euclid(360.0);
    let dec = (d0.sin() + eta * d0.cos()).atan2(xi.hypot(denom)).to_degrees();
    // Both are on the sky by construction; rounding cannot leave it.
    Coordinates::new(if ra >= 360.0 { 0.0 } else { ra }, dec.clamp(-90.0, 90.0)).unwrap_or(c)
}

/// Why no request is built.
#[derive(Debug, Clone, PartialEq)]
pub enum NotBuilt {
    /// The error circle needs more pointings than the strategy allows, or
    /// the strategy skips large circles.
    TooLarge(String),
    /// A value out of the model's range (a bug in a strategy's numbers).
    Invalid(String),
}

/// The request for a notice with a position.
pub fn build(
    strategy: &Strategy,
    facts: &Facts,
    centre: Coordinates,
    ctx: &BuildContext<'_>,
) -> Result<NewRequest, NotBuilt> {
    let t = &strategy.target;
    let error = facts.error_deg.unwrap_or(0.0);
    let fov = ctx.field_of_view_deg;
    let pointings = if error <= fov / 2.0 {
        vec![centre]
    } else {
        match t.large_error {
            LargeError::Skip => {
                return Err(NotBuilt::TooLarge(format!(
                    "the error circle ({error:.3} deg) is larger than the field of view ({fov:.3} deg) and strategy {} skips such notices",
                    strategy.name
                )));
            }
            LargeError::Tile => tiles(centre, error, fov, t.max_tiles).map_err(|n| {
                NotBuilt::TooLarge(format!(
                    "the error circle ({error:.3} deg) needs {n} pointings of {fov:.3} deg, strategy {} allows {}",
                    strategy.name, t.max_tiles
                ))
            })?,
        }
    };
    let age = facts.trigger.map_or(0.0, |tr| (ctx.now - tr).num_milliseconds() as f64 / 1000.0);
    let steps = strategy.steps_for(age);
    // Tiles share the time: each takes the current step only.
    let steps = if pointings.len() > 1 { &steps[..1] } else { steps };
    let invalid = |e: ferros_domain::DomainError| NotBuilt::Invalid(e.to_string());
    let jd1 = JulianDate::from_datetime(ctx.now).map_err(invalid)?;
    let end = ctx.now + TimeDelta::milliseconds((t.window_h * 3_600_000.0) as i64);
    let jd2 = JulianDate::from_datetime(end).map_err(invalid)?;
    let title = facts.title();
    let target = facts.burst_id.clone().unwrap_or_else(|| title.clone());
    let mut sequences = Vec::with_capacity(pointings.len());
    for (k, c) in pointings.iter().enumerate() {
        let albums = albums(steps, ctx.readouts).map_err(invalid)?;
        let duration =
            albums.iter().map(|a| a.plans.iter().map(|p| p.duration).sum()).fold(Seconds::ZERO, Seconds::max);
        let name = if pointings.len() > 1 {
            format!("tile {} of {}", k + 1, pointings.len())
        } else {
            "follow-up".to_owned()
        };
        let spec = SequenceSpec {
            name,
            target: Some(target.clone()),
            coordinates: Some(*c),
            target_coords: None,
            jd1,
            jd2,
            duration,
            overhead: Seconds::new("overhead", t.overhead_s).map_err(invalid)?,
            t_prefered: None,
            priority: PriorityModulation::default(),
            constraints: Constraints { min_altitude: Some(t.min_altitude), ..Constraints::default() },
            mandatory: true,
            reportable_nights: t.reportable_nights,
        };
        spec.validate().map_err(invalid)?;
        sequences.push(NewSequence { spec, albums });
    }
    Ok(NewRequest {
        name: format!("{title} ({})", strategy.name),
        program: ctx.program.to_owned(),
        target_type: "grb".to_owned(),
        kind: RequestKind::Alert,
        strategy: Execution::BestEffort,
        sequences,
    })
}

fn albums(steps: &[Step], readouts: Readouts) -> Result<Vec<NewAlbum>, ferros_domain::DomainError> {
    let mut albums = Vec::new();
    for d in [Detector::Vis, Detector::Nir] {
        let mut plans = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            let Some(shot) = step.shot(d) else { continue };
            let mut plan = PlanSpec {
                name: format!("step {} {} {}x{}s", i + 1, shot.filter, shot.images, shot.exposure_s),
                filter: shot.filter.clone(),
                exposure: Seconds::new("exposure", shot.exposure_s)?,
                nb_images: shot.images,
                binning: shot.binning,
                window: None,
                dithering: 0.0,
                duration: Seconds::ZERO,
            };
            plan.duration = Seconds::new("duration", plan.needed(readouts.of(d, shot.binning)))?;
            plan.validate()?;
            plans.push(plan);
        }
        if !plans.is_empty() {
            albums.push(NewAlbum {
                spec: AlbumSpec { name: d.code().to_ascii_lowercase(), detector: d },
                plans,
            });
        }
    }
    Ok(albums)
}
