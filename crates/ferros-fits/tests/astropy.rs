//! A file Ferros writes, checked by astropy (`verify("exception")`) when
//! FERROS_TEST_ASTROPY names a Python with astropy (CI sets it).

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use ferros_fits::{Header, write};

#[test]
fn astropy_reads_what_ferros_writes() {
    let Ok(python) = std::env::var("FERROS_TEST_ASTROPY") else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("check.fits");
    let mut h = Header::default();
    h.set("DATE-OBS", "2026-11-23T06:00:00.000", "start (UTC)")
        .set("EXPTIME", 30.0, "s")
        .set("OBJECT", "it's a test", "")
        .set("AIRMASS", 1.2345678901, "")
        .set("SEQ_ID", 42_i64, "");
    let pixels: Vec<u16> = (0..12u16).map(|i| i * 5000).collect();
    std::fs::write(&path, write(4, 3, &pixels, &h).unwrap()).unwrap();
    let script = "import sys\nfrom astropy.io import fits\nh = fits.open(sys.argv[1])\nh.verify('exception')\nd = h[0].data\nhd = h[0].header\nprint(d.shape, int(d[2][3]), hd['OBJECT'], hd['EXPTIME'], hd['SEQ_ID'], round(hd['AIRMASS'], 6))";
    let out = std::process::Command::new(&python).arg("-c").arg(script).arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(text.trim(), "(3, 4) 55000 it's a test 30.0 42 1.234568");
}
