//! World coordinates of an image: the gnomonic (TAN) projection with a CD
//! matrix, and SIP polynomial distortion (`RA---TAN-SIP`), as FITS headers
//! carry them. Pixel positions here follow the FITS convention: the first
//! pixel's centre is (1, 1).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wcs {
    /// Right ascension and declination of the reference pixel, degrees.
    pub crval: [f64; 2],
    /// The reference pixel.
    pub crpix: [f64; 2],
    /// Degrees per pixel: `[[CD1_1, CD1_2], [CD2_1, CD2_2]]`.
    pub cd: [[f64; 2]; 2],
    /// Distortion, in pixels, added to the offsets from `crpix` before `cd`.
    pub sip: Option<Sip>,
}

/// SIP distortion: `u' = u + sum A_p_q u^p v^q`, the same for `v` with `B`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sip {
    pub order: usize,
    /// `(p, q, coefficient)`.
    pub a: Vec<(usize, usize, f64)>,
    pub b: Vec<(usize, usize, f64)>,
}

impl Sip {
    fn apply(&self, u: f64, v: f64) -> (f64, f64) {
        let poly = |terms: &[(usize, usize, f64)]| {
            terms.iter().map(|&(p, q, c)| c * u.powi(p as i32) * v.powi(q as i32)).sum::<f64>()
        };
        (u + poly(&self.a), v + poly(&self.b))
    }
}

/// The most SIP order read from a header.
const MAX_SIP_ORDER: usize = 9;

impl Wcs {
    /// The WCS of a header, `None` without one; an error names the card that
    /// is wrong. Reads CD, or CDELT with PC or CROTA2.
    pub fn from_header(h: &[(String, String)]) -> Result<Option<Wcs>, String> {
        let get = |k: &str| h.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        let num = |k: &str| -> Result<Option<f64>, String> {
            match get(k) {
                None => Ok(None),
                Some(v) => v
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .map(Some)
                    .ok_or_else(|| format!("{k} = {v} is not a number")),
            }
        };
        let (Some(c1), Some(c2)) = (get("CTYPE1"), get("CTYPE2")) else { return Ok(None) };
        let sip = c1.ends_with("-SIP");
        if !(c1.starts_with("RA---TAN") && c2.starts_with("DEC--TAN")) {
            return Err(format!(
                "CTYPE1 = {c1}, CTYPE2 = {c2}: only the TAN projection (RA---TAN, DEC--TAN) is read"
            ));
        }
        let need = |k: &str| num(k)?.ok_or_else(|| format!("no {k} card"));
        let crval = [need("CRVAL1")?, need("CRVAL2")?];
        let crpix = [need("CRPIX1")?, need("CRPIX2")?];
        let cd = if let Some(cd11) = num("CD1_1")? {
            [[cd11, num("CD1_2")?.unwrap_or(0.0)], [num("CD2_1")?.unwrap_or(0.0), need("CD2_2")?]]
        } else {
            let (d1, d2) = (need("CDELT1")?, need("CDELT2")?);
            let pc = if let Some(p11) = num("PC1_1")? {
                [
                    [p11, num("PC1_2")?.unwrap_or(0.0)],
                    [num("PC2_1")?.unwrap_or(0.0), num("PC2_2")?.unwrap_or(1.0)],
                ]
            } else {
                let rot = num("CROTA2")?.unwrap_or(0.0).to_radians();
                [[rot.cos(), -rot.sin() * d2 / d1], [rot.sin() * d1 / d2, rot.cos()]]
            };
            [[d1 * pc[0][0], d1 * pc[0][1]], [d2 * pc[1][0], d2 * pc[1][1]]]
        };
        let det = cd[0][0] * cd[1][1] - cd[0][1] * cd[1][0];
        if det.abs() < 1e-20 || !(-90.0..=90.0).contains(&crval[1]) {
            return Err(format!("a singular CD matrix or CRVAL2 = {} out of range", crval[1]));
        }
        let sip = if sip {
            let order = |k: &str| -> Result<usize, String> {
                let o = need(k)?;
                if o.fract() != 0.0 || !(0.0..=MAX_SIP_ORDER as f64).contains(&o) {
                    return Err(format!("{k} = {o}: an order from 0 to {MAX_SIP_ORDER} expected"));
                }
                Ok(o as usize)
            };
            let (oa, ob) = (order("A_ORDER")?, order("B_ORDER")?);
            let terms = |prefix: &str, o: usize| -> Result<Vec<(usize, usize, f64)>, String> {
                let mut t = Vec::new();
                for p in 0..=o {
                    for q in 0..=o - p {
                        if let Some(c) = num(&format!("{prefix}_{p}_{q}"))?
                            && c != 0.0
                        {
                            t.push((p, q, c));
                        }
                    }
                }
                Ok(t)
            };
            Some(Sip { order: oa.max(ob), a: terms("A", oa)?, b: terms("B", ob)? })
        } else {
            None
        };
        Ok(Some(Wcs { crval, crpix, cd, sip }))
    }

    /// A TAN WCS pointing at `(ra, dec)` on the image's centre, `scale`
    /// arcseconds per pixel, north up and east left, turned by `rotation`
    /// degrees (east of north).
    pub fn nominal(ra: f64, dec: f64, width: u32, height: u32, scale: f64, rotation: f64) -> Wcs {
        let s = scale / 3600.0;
        let (c, sn) = (rotation.to_radians().cos(), rotation.to_radians().sin());
        Wcs {
            crval: [ra.rem_euclid(360.0), dec],
            crpix: [f64::from(width) / 2.0 + 0.5, f64::from(height) / 2.0 + 0.5],
            cd: [[-s * c, s * sn], [s * sn, s * c]],
            sip: None,
        }
    }

    /// The cards of this WCS (the CTYPE with `-SIP` when it has distortion).
    pub fn cards(&self) -> Vec<(String, ferros_fits::Value, &'static str)> {
        use ferros_fits::Value::{Float, Int, Text};
        let suffix = if self.sip.is_some() { "-SIP" } else { "" };
        let mut c = vec![
            ("CTYPE1".to_owned(), Text(format!("RA---TAN{suffix}")), "gnomonic projection"),
            ("CTYPE2".to_owned(), Text(format!("DEC--TAN{suffix}")), ""),
            ("CRVAL1".to_owned(), Float(self.crval[0]), "deg"),
            ("CRVAL2".to_owned(), Float(self.crval[1]), "deg"),
            ("CRPIX1".to_owned(), Float(self.crpix[0]), ""),
            ("CRPIX2".to_owned(), Float(self.crpix[1]), ""),
            ("CD1_1".to_owned(), Float(self.cd[0][0]), "deg per pixel"),
            ("CD1_2".to_owned(), Float(self.cd[0][1]), ""),
            ("CD2_1".to_owned(), Float(self.cd[1][0]), ""),
            ("CD2_2".to_owned(), Float(self.cd[1][1]), ""),
        ];
        if let Some(sip) = &self.sip {
            c.push(("A_ORDER".to_owned(), Int(sip.order as i64), "SIP distortion"));
            c.push(("B_ORDER".to_owned(), Int(sip.order as i64), ""));
            for (prefix, terms) in [("A", &sip.a), ("B", &sip.b)] {
                for &(p, q, v) in terms {
                    c.push((format!("{prefix}_{p}_{q}"), Float(v), ""));
                }
            }
        }
        c
    }

    /// Sky position (degrees) of a pixel.
    pub fn pixel_to_sky(&self, x: f64, y: f64) -> (f64, f64) {
        let (mut u, mut v) = (x - self.crpix[0], y - self.crpix[1]);
        if let Some(sip) = &self.sip {
            (u, v) = sip.apply(u, v);
        }
        let xi = (self.cd[0][0] * u + self.cd[0][1] * v).to_radians();
        let eta = (self.cd[1][0] * u + self.cd[1][1] * v).to_radians();
        let (a0, d0) = (self.crval[0].to_radians(), self.crval[1].to_radians());
        let denom = d0.cos() - eta * d0.sin();
        let ra = a0 + xi.atan2(denom);
        let dec = (eta * d0.cos() + d0.sin()).atan2((xi * xi + denom * denom).sqrt());
        (ra.to_degrees().rem_euclid(360.0), dec.to_degrees())
    }

    /// The pixel of a sky position, `None` on the far side of the sky.
    pub fn sky_to_pixel(&self, ra: f64, dec: f64) -> Option<(f64, f64)> {
        let (xi, eta) = gnomonic(self.crval, ra, dec)?;
        let det = self.cd[0][0] * self.cd[1][1] - self.cd[0][1] * self.cd[1][0];
        let u = (self.cd[1][1] * xi - self.cd[0][1] * eta) / det;
        let v = (-self.cd[1][0] * xi + self.cd[0][0] * eta) / det;
        let (mut pu, mut pv) = (u, v);
        if let Some(sip) = &self.sip {
            // The distortion undone by fixed-point iteration (it is small).
            for _ in 0..20 {
                let (du, dv) = sip.apply(pu, pv);
                let (nu, nv) = (pu + (u - du), pv + (v - dv));
                let done = (nu - pu).abs() + (nv - pv).abs() < 1e-9;
                (pu, pv) = (nu, nv);
                if done {
                    break;
                }
            }
        }
        Some((pu + self.crpix[0], pv + self.crpix[1]))
    }

    /// Arcseconds per pixel (the square root of the CD determinant).
    pub fn scale(&self) -> f64 {
        (self.cd[0][0] * self.cd[1][1] - self.cd[0][1] * self.cd[1][0]).abs().sqrt() * 3600.0
    }
}

/// Standard coordinates (degrees) of a position around a tangent point.
pub fn gnomonic(centre: [f64; 2], ra: f64, dec: f64) -> Option<(f64, f64)> {
    let (a0, d0, a, d) = (centre[0].to_radians(), centre[1].to_radians(), ra.to_radians(), dec.to_radians());
    let cosc = d0.sin() * d.sin() + d0.cos() * d.cos() * (a - a0).cos();
    if cosc <= 1e-6 {
        return None;
    }
    let xi = d.cos() * (a - a0).sin() / cosc;
    let eta = (d0.cos() * d.sin() - d0.sin() * d.cos() * (a - a0).cos()) / cosc;
    Some((xi.to_degrees(), eta.to_degrees()))
}

/// Angle between two sky positions, degrees.
pub fn separation(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (a0, d0, a1, d1) = (a.0.to_radians(), a.1.to_radians(), b.0.to_radians(), b.1.to_radians());
    // Haversine: precise at small angles.
    let h = ((d1 - d0) / 2.0).sin().powi(2) + d0.cos() * d1.cos() * ((a1 - a0) / 2.0).sin().powi(2);
    2.0 * h.sqrt().min(1.0).asin().to_degrees()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails by panicking")]
    use super::*;

    #[test]
    fn pixels_and_sky_round_trip_with_distortion() {
        let mut w = Wcs::nominal(250.4226, 36.4602, 300, 300, 1.0, 12.0);
        assert!((w.scale() - 1.0).abs() < 1e-9);
        let (ra, dec) = w.pixel_to_sky(150.5, 150.5);
        assert!(separation((ra, dec), (250.4226, 36.4602)) < 1e-9);
        w.sip = Some(Sip { order: 3, a: vec![(2, 0, 1e-5), (0, 3, 2e-8)], b: vec![(1, 1, -1e-5)] });
        for (x, y) in [(1.0, 1.0), (300.0, 1.0), (77.7, 222.2)] {
            let (ra, dec) = w.pixel_to_sky(x, y);
            let (bx, by) = w.sky_to_pixel(ra, dec).unwrap();
            assert!((bx - x).abs() < 1e-6 && (by - y).abs() < 1e-6, "{x},{y} -> {bx},{by}");
        }
        // East is left: a larger x is a smaller right ascension.
        assert!(Wcs::nominal(10.0, 0.0, 100, 100, 1.0, 0.0).pixel_to_sky(80.0, 50.5).0 < 10.0);
    }

    #[test]
    fn headers_are_read_in_their_three_forms_and_errors_named() {
        let h = |cards: &[(&str, &str)]| {
            cards.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>()
        };
        let base = [
            ("CTYPE1", "RA---TAN"),
            ("CTYPE2", "DEC--TAN"),
            ("CRVAL1", "250.4226"),
            ("CRVAL2", "36.4602"),
            ("CRPIX1", "150.5"),
            ("CRPIX2", "150.5"),
        ];
        let mut m13 = base.to_vec();
        m13.extend([("CDELT1", "-0.00027770002"), ("CDELT2", "0.00027770002"), ("CROTA1", "0.0")]);
        let w = Wcs::from_header(&h(&m13)).unwrap().unwrap();
        assert!((w.cd[0][0] + 0.00027770002).abs() < 1e-15 && w.cd[0][1] == 0.0);
        let back = Wcs::from_header(
            &w.cards()
                .into_iter()
                .map(|(k, v, _)| {
                    (
                        k,
                        match v {
                            ferros_fits::Value::Float(f) => f.to_string(),
                            ferros_fits::Value::Text(t) => t,
                            other => format!("{other:?}"),
                        },
                    )
                })
                .collect::<Vec<_>>(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(back, w);
        assert_eq!(Wcs::from_header(&h(&[("OBJECT", "M13")])).unwrap(), None);
        let mut bad = base.to_vec();
        bad.push(("CD1_1", "abc"));
        assert!(Wcs::from_header(&h(&bad)).unwrap_err().contains("CD1_1 = abc is not a number"));
        let e = Wcs::from_header(&h(&[("CTYPE1", "RA---SIN"), ("CTYPE2", "DEC--SIN")])).unwrap_err();
        assert!(e.contains("only the TAN projection"), "{e}");
        let mut no_cd = base.to_vec();
        no_cd.retain(|(k, _)| *k != "CRPIX2");
        assert!(Wcs::from_header(&h(&no_cd)).unwrap_err().contains("no CRPIX2 card"));
    }
}
