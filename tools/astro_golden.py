#!/usr/bin/env python3
"""Golden values for ferros-astro, computed with astropy and astroplan.

Writes crates/ferros-astro/tests/data/astropy_golden.json: Sun, Moon and target
positions, night events, target events, Moon illumination and visibility windows
for a grid of sites and dates. The Rust tests compare ferros-astro with it.

Usage:  python3 tools/astro_golden.py          (installs astropy + astroplan if needed)

Conventions match ferros-astro: UT1 - UTC = 0, no refraction (pressure 0), the
night of a date from local mean noon to the next, crossings bracketed on the same
10-minute grid and refined by bisection to 0.01 s.
"""

import json
import subprocess
import sys
import warnings
from pathlib import Path

try:
    import astroplan  # noqa: F401
    import astropy  # noqa: F401
except ImportError:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "astropy", "astroplan"])

import numpy as np
from astropy.utils import iers

iers.conf.auto_download = False
iers.conf.iers_degraded_accuracy = "ignore"
warnings.filterwarnings("ignore")

import astropy.units as u  # noqa: E402
from astroplan import moon_illumination  # noqa: E402
from astropy.coordinates import AltAz, EarthLocation, HADec, SkyCoord, get_body  # noqa: E402
from astropy.time import Time  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "crates/ferros-astro/tests/data/astropy_golden.json"

# (name, latitude, longitude east positive, elevation m)
SITES = [
    ("antarctic", -70.0, -150.0, 0.0),
    ("new-zealand", -45.0, 170.0, 100.0),
    ("cerro-tololo", -30.1690, -70.8063, 2207.0),
    ("equator", 0.0, 30.0, 0.0),
    ("haleakala", 20.7083, -156.2571, 3052.0),
    ("san-pedro-martir", 31.0439, -115.4637, 2790.0),
    ("haute-provence", 43.9317, 5.7133, 650.0),
    ("siberia", 60.0, 90.0, 200.0),
    ("lapland", 70.0, 20.0, 50.0),
]
DATES = [f"2026-{m:02d}-05" for m in range(1, 13)] + ["2024-06-21", "2031-12-21"]
STEPS = 144  # 10-minute grid over a night
TOL_DAYS = 0.01 / 86400.0
NIGHT_ALTITUDE = -12.0

rng = np.random.default_rng(20261122)
N_TARGETS = 200
TARGET_RA = rng.uniform(0.0, 360.0, N_TARGETS)
TARGET_DEC = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, N_TARGETS)))


def utc(jd):
    t = Time(np.atleast_1d(np.asarray(jd, dtype=float)), format="jd", scale="utc")
    t.delta_ut1_utc = np.zeros(t.shape)
    return t


def frame(loc, t):
    return AltAz(obstime=t, location=loc, pressure=0 * u.hPa)


def body_altaz(name, loc, jd):
    t = utc(jd)
    return get_body(name, t, loc).transform_to(frame(loc, t))


def star_altaz(loc, ra, dec, jd):
    t = utc(jd)
    return SkyCoord(ra * u.deg, dec * u.deg).transform_to(frame(loc, t))


def star_ha(loc, ra, dec, jd):
    t = utc(jd)
    ha = SkyCoord(ra * u.deg, dec * u.deg).transform_to(HADec(obstime=t, location=loc, pressure=0 * u.hPa)).ha
    return ha.wrap_at(12 * u.hourangle).hour


def local_noon(date, lon):
    return Time(date + "T12:00:00", scale="utc").jd - lon / 360.0


def crossings(f, grid):
    """Crossings of f (vectorized, JD -> value) between grid points, refined."""
    values = f(grid)
    idx = np.nonzero(np.signbit(values[:-1]) != np.signbit(values[1:]))[0]
    if len(idx) == 0:
        return []
    a, b = grid[idx].copy(), grid[idx + 1].copy()
    fa = values[idx].copy()
    rising = values[idx] < 0
    while np.max(b - a) > TOL_DAYS:
        m = 0.5 * (a + b)
        fm = f(m)
        left = np.signbit(fm) == np.signbit(fa)
        a = np.where(left, m, a)
        fa = np.where(left, fm, fa)
        b = np.where(left, b, m)
    return [(float(0.5 * (x + y)), bool(r)) for x, y, r in zip(a, b, rising)]


def intervals_where(f, start, end, grid):
    """Spans of [start, end] where f >= 0 (f vectorized)."""
    pts = np.concatenate([[start], grid[(grid > start) & (grid < end)], [end]])
    out, open_at = [], (start if f(np.array([start]))[0] >= 0 else None)
    for jd, rising in crossings(f, pts):
        if rising and open_at is None:
            open_at = jd
        elif not rising and open_at is not None:
            out.append([open_at, jd])
            open_at = None
    if open_at is not None:
        out.append([open_at, end])
    return out


def dusk_dawn(cs):
    dusk = next((t for t, r in cs if not r), None)
    dawn = next((t for t, r in cs if r and (dusk is None or t > dusk)), None)
    return dusk, dawn


def main():
    positions, targets, nights, target_events, windows = [], [], [], [], []
    k = 0
    for name, lat, lon, elev in SITES:
        loc = EarthLocation.from_geodetic(lon * u.deg, lat * u.deg, elev * u.m)
        for date in DATES:
            noon = local_noon(date, lon)
            grid = noon + np.arange(STEPS + 1) / STEPS
            site = {"site": name, "lat": lat, "lon": lon, "elev": elev, "date": date}

            # Sun and Moon, at three times of the night.
            for frac in (0.25, 0.5, 0.75):
                jd = noon + frac
                for body in ("sun", "moon"):
                    aa = body_altaz(body, loc, jd)
                    positions.append({**site, "body": body, "jd": jd, "alt": float(aa.alt.deg[0]), "az": float(aa.az.deg[0])})

            # Targets: 15 a night, at two times.
            for _ in range(15):
                i = k % N_TARGETS
                k += 1
                for frac in (0.3, 0.7):
                    jd = noon + frac
                    aa = star_altaz(loc, TARGET_RA[i], TARGET_DEC[i], jd)
                    targets.append({**site, "ra": TARGET_RA[i], "dec": TARGET_DEC[i], "jd": jd,
                                    "alt": float(aa.alt.deg[0]), "az": float(aa.az.deg[0]),
                                    "ha": float(star_ha(loc, TARGET_RA[i], TARGET_DEC[i], jd)[0])})

            # Night events.
            sun_alt = lambda jd: body_altaz("sun", loc, jd).alt.deg  # noqa: E731
            moon_alt = lambda jd: body_altaz("moon", loc, jd).alt.deg  # noqa: E731
            sun_on_grid = sun_alt(grid)
            events = {}
            for key, level in (("sun", -0.833), ("civil", -6.0), ("nautical", -12.0), ("astronomical", -18.0)):
                cs = crossings(lambda jd, lv=level: (sun_on_grid - lv) if jd is grid else sun_alt(jd) - lv, grid)
                events[key] = dusk_dawn(cs)
            mc = crossings(moon_alt, grid)
            midnight = Time(noon + 0.5, format="jd", scale="utc")
            nights.append({
                **site,
                "sunset": events["sun"][0], "sunrise": events["sun"][1],
                "civil_dusk": events["civil"][0], "civil_dawn": events["civil"][1],
                "nautical_dusk": events["nautical"][0], "nautical_dawn": events["nautical"][1],
                "astronomical_dusk": events["astronomical"][0], "astronomical_dawn": events["astronomical"][1],
                "moonrise": next((t for t, r in mc if r), None),
                "moonset": next((t for t, r in mc if not r), None),
                "moon_illumination": float(moon_illumination(midnight)),
            })

            # Target events and windows for a few targets.
            dark = intervals_where(lambda jd: NIGHT_ALTITUDE - sun_alt(jd), grid[0], grid[-1], grid)
            for j in range(3):
                i = (k + 37 * j) % N_TARGETS
                ra, dec = TARGET_RA[i], TARGET_DEC[i]
                alt = lambda jd, ra=ra, dec=dec: star_altaz(loc, ra, dec, jd).alt.deg  # noqa: E731
                cs = crossings(alt, grid)
                ha = lambda jd, ra=ra, dec=dec: star_ha(loc, ra, dec, jd)  # noqa: E731
                ha_grid = ha(grid)
                transit = None
                for m in range(STEPS):
                    if ha_grid[m] < 0 <= ha_grid[m + 1] and ha_grid[m + 1] - ha_grid[m] < 6:
                        transit = crossings(ha, grid[m:m + 2])[0][0]
                        break
                target_events.append({
                    **site, "ra": ra, "dec": dec,
                    "rise": next((t for t, r in cs if r), None),
                    "set": next((t for t, r in cs if not r), None),
                    "transit": transit,
                    "transit_altitude": None if transit is None else float(alt(np.array([transit]))[0]),
                })
                min_alt, min_sep = 30.0, 30.0
                tgt = SkyCoord(ra * u.deg, dec * u.deg)

                def sep(jd, tgt=tgt):
                    t = utc(jd)
                    moon = get_body("moon", t, loc)
                    return tgt.transform_to(moon.frame).separation(moon).deg - min_sep

                spans = []
                for a, b in dark:
                    up = intervals_where(lambda jd: alt(jd) - min_alt, a, b, grid)
                    far = intervals_where(sep, a, b, grid)
                    spans += [[max(x[0], y[0]), min(x[1], y[1])] for x in up for y in far
                              if min(x[1], y[1]) > max(x[0], y[0])]
                windows.append({**site, "ra": ra, "dec": dec, "min_alt": min_alt, "min_moon_sep": min_sep,
                                "night_altitude": NIGHT_ALTITUDE, "windows": spans})
        print(f"{name}: done", file=sys.stderr)

    OUT.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "generator": f"astropy {astropy.__version__}, astroplan {astroplan.__version__}, tools/astro_golden.py",
        "positions": positions, "targets": targets, "nights": nights,
        "target_events": target_events, "windows": windows,
    }
    OUT.write_text(json.dumps(doc, separators=(",", ":")))
    print(f"wrote {OUT} ({len(positions)} body positions, {len(targets)} target positions, "
          f"{len(nights)} nights, {len(target_events)} target events, {len(windows)} window sets)", file=sys.stderr)


if __name__ == "__main__":
    main()
