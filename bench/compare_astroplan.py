#!/usr/bin/env python3
"""Ferros's planner against astroplan's PriorityScheduler, on the same nights.

For each size N, `ferros bench scheduler --export` builds a random, realistic
night (seeded) and plans it; this script plans the very same sequences with
astroplan (same site, same night span, same minimum altitudes and time windows,
no slew time) and prints, side by side, the planning time, the planned time and
the priority-weighted planned time (sum of duration / max(priority, 1), hours).

Usage:  python3 bench/compare_astroplan.py [--ferros target/release/ferros] [--sizes 50 100 200]
(installs astropy + astroplan from PyPI if needed; runs offline.)
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

try:
    import astroplan  # noqa: F401
except ImportError:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "astropy", "astroplan"])

from astropy.utils import iers

iers.conf.auto_download = False
iers.conf.iers_degraded_accuracy = "ignore"
iers.conf.auto_max_age = None
warnings.filterwarnings("ignore")

import astropy.units as u  # noqa: E402
from astroplan import FixedTarget, Observer  # noqa: E402
from astroplan.constraints import AltitudeConstraint, AtNightConstraint, TimeConstraint  # noqa: E402
from astroplan.scheduling import ObservingBlock, PriorityScheduler, Schedule, Transitioner  # noqa: E402
from astropy.coordinates import EarthLocation, SkyCoord  # noqa: E402
from astropy.time import Time  # noqa: E402


def weighted(items):
    return sum(d / 3600.0 / max(p, 1) for d, p in items)


def astroplan_plan(night):
    site = night["site"]
    observer = Observer(location=EarthLocation.from_geodetic(site["lon"] * u.deg, site["lat"] * u.deg, site["elev"] * u.m))
    blocks = []
    for s in night["sequences"]:
        target = FixedTarget(SkyCoord(s["ra"] * u.deg, s["dec"] * u.deg), name=str(s["id"]))
        constraints = [
            AltitudeConstraint(min=s["min_alt"] * u.deg),
            TimeConstraint(Time(s["jd1"], format="jd"), Time(s["jd2"], format="jd")),
        ]
        blocks.append(ObservingBlock(target, s["duration_s"] * u.second, s["priority"], constraints=constraints,
                                     configuration={"id": s["id"]}))
    start, end = Time(night["night_start"], format="jd"), Time(night["night_end"], format="jd")
    scheduler = PriorityScheduler(constraints=[AtNightConstraint.twilight_nautical()], observer=observer,
                                  transitioner=Transitioner(None, None), time_resolution=60 * u.second)
    schedule = Schedule(start, end)
    t0 = time.perf_counter()
    scheduler(blocks, schedule)
    elapsed = time.perf_counter() - t0
    done = [b for b in schedule.observing_blocks if isinstance(b, ObservingBlock)]
    return elapsed, [(b.duration.to_value(u.second), b.priority) for b in done]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ferros", default="target/release/ferros")
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--time", default="2026-11-22T12:00:00Z")
    args = ap.parse_args()
    print(f"{'N':>6} | {'ferros ms':>10} {'planned h':>10} {'weighted h':>10} | "
          f"{'astroplan ms':>12} {'planned h':>10} {'weighted h':>10} | {'speed-up':>8}")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "night.json"
            subprocess.run([str(Path(args.ferros).resolve()), "bench", "scheduler", "--sequences", str(n), "--seed", str(args.seed),
                            "--time", args.time, "--export", str(out)], check=True, capture_output=True,
                           cwd=tmp)
            night = json.loads(out.read_text())
        by_id = {s["id"]: s for s in night["sequences"]}
        ferros = [(by_id[p["id"]]["duration_s"], by_id[p["id"]]["priority"]) for p in night["ferros"]["planned"]]
        f_ms = night["ferros"]["planning_s"] * 1e3
        a_s, a_items = astroplan_plan(night)
        print(f"{n:>6} | {f_ms:>10.2f} {sum(d for d, _ in ferros) / 3600:>10.2f} {weighted(ferros):>10.3f} | "
              f"{a_s * 1e3:>12.0f} {sum(d for d, _ in a_items) / 3600:>10.2f} {weighted(a_items):>10.3f} | "
              f"{a_s * 1e3 / max(f_ms, 1e-3):>7.0f}x", flush=True)


if __name__ == "__main__":
    main()
