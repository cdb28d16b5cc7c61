//! Manual device commands (seed 000: engineers command the devices by hand in
//! REMOTE): parsed from text, allowed or refused by the rules.

use ferros_domain::{Detector, Profile, Right};
use serde::Serialize;

use crate::{Inputs, Majordome, Mode, Refusal};

/// A command for one device, as `ferros control device ...` gives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum DeviceCommand {
    MountPark,
    MountUnpark,
    /// J2000, degrees.
    MountSlew {
        ra: f64,
        dec: f64,
    },
    MountAbort,
    DomeOpen,
    DomeClose,
    DomeAzimuth {
        azimuth: f64,
    },
    DomeAbort,
    /// The wheel of the VIS or NIR camera.
    FilterSelect {
        wheel: Detector,
        filter: String,
    },
    CameraAbort {
        camera: Detector,
    },
}

/// A text that is not a device command, and what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    #[error("unknown device command \"{0}\" (expected {USAGE})")]
    Unknown(String),
    #[error("not a device command (expected {USAGE})")]
    NotADeviceCommand,
    #[error("{name} \"{text}\" must be a number in {lo}..{hi}")]
    OutOfRange { name: &'static str, text: String, lo: f64, hi: f64 },
}

const USAGE: &str = "device telescope park|unpark|abort|slew RA DEC, device dome open|close|abort|azimuth AZ, \
                     device filter_vis|filter_nir select NAME, device camera_vis|camera_nir abort";

impl DeviceCommand {
    /// Parses `device <role> <action> [args]`; the error says what is expected.
    pub fn parse(text: &str) -> Result<DeviceCommand, CommandError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let number = |s: &str, name: &'static str, lo: f64, hi: f64| -> Result<f64, CommandError> {
            match s.parse::<f64>() {
                Ok(v) if v.is_finite() && (lo..=hi).contains(&v) => Ok(v),
                _ => Err(CommandError::OutOfRange { name, text: s.to_owned(), lo, hi }),
            }
        };
        let detector = |role: &str| if role.ends_with("_vis") { Detector::Vis } else { Detector::Nir };
        match words.as_slice() {
            ["device", "telescope", "park"] => Ok(Self::MountPark),
            ["device", "telescope", "unpark"] => Ok(Self::MountUnpark),
            ["device", "telescope", "abort"] => Ok(Self::MountAbort),
            ["device", "telescope", "slew", ra, dec] => Ok(Self::MountSlew {
                ra: number(ra, "RA", 0.0, 360.0)?,
                dec: number(dec, "Dec", -90.0, 90.0)?,
            }),
            ["device", "dome", "open"] => Ok(Self::DomeOpen),
            ["device", "dome", "close"] => Ok(Self::DomeClose),
            ["device", "dome", "abort"] => Ok(Self::DomeAbort),
            ["device", "dome", "azimuth", az] => {
                Ok(Self::DomeAzimuth { azimuth: number(az, "azimuth", 0.0, 360.0)? })
            }
            ["device", w @ ("filter_vis" | "filter_nir"), "select", name] => {
                Ok(Self::FilterSelect { wheel: detector(w), filter: (*name).to_owned() })
            }
            ["device", c @ ("camera_vis" | "camera_nir"), "abort"] => {
                Ok(Self::CameraAbort { camera: detector(c) })
            }
            ["device", ..] => Err(CommandError::Unknown(text.to_owned())),
            _ => Err(CommandError::NotADeviceCommand),
        }
    }

    /// Whether it opens the observatory to the sky or moves it (refused when UNSAFE).
    pub fn opens(&self) -> bool {
        matches!(self, Self::DomeOpen | Self::MountUnpark | Self::MountSlew { .. })
    }
}

impl Majordome {
    /// Whether someone with `profiles` may give `cmd` now: engineers and
    /// operators, in REMOTE, unlocked; nothing that opens or moves while UNSAFE.
    pub fn device_command(
        &self,
        cmd: &DeviceCommand,
        profiles: &[Profile],
        inp: &Inputs,
    ) -> Result<(), Refusal> {
        if !profiles.iter().any(|p| p.allows(Right::DeviceCommand)) {
            return Err(Refusal::NotAllowed("engineers and operators"));
        }
        if self.locked {
            return Err(Refusal::Locked);
        }
        if self.mode != Mode::Remote {
            return Err(Refusal::WrongMode {
                rule: "devices are commanded by hand only in REMOTE",
                mode: self.mode,
            });
        }
        if cmd.opens() && !self.safe(inp) {
            return Err(Refusal::Unsafe);
        }
        Ok(())
    }
}
