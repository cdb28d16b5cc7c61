//! Every size, count and duration an input to Ferros may carry: files,
//! network messages, configuration values, requests, commands. The readers
//! take their limits from here, so that one page (`docs/configuration.md`,
//! "Limits") lists them all; a value beyond its limit is refused with the
//! limit named, never truncated in silence.
//!
//! Request limits an observatory may want to tighten are configurable
//! ([`ImportLimits`], the `[import]` section); each has a ceiling
//! ([`ImportLimits::CEILING`]) that the configuration cannot exceed.

use serde::{Deserialize, Serialize};

// ---- Files read by the command line -------------------------------------

/// A request XML file, bytes.
pub const MAX_REQUEST_BYTES: u64 = 4 << 20;
/// A PLC scenario file, bytes.
pub const MAX_SCENARIO_BYTES: u64 = 4 << 20;
/// A planner input or output file (`ferros schedule --input`), bytes.
pub const MAX_PLAN_FILE_BYTES: u64 = 16 << 20;
/// Request files in one simulated night's folder.
pub const MAX_REQUEST_FILES: usize = 1_000;
/// Nights in one simulated campaign.
pub const MAX_NIGHTS: u64 = 100_000;

// ---- Configuration -------------------------------------------------------

/// The longest period, delay or exposure a setting may give, seconds (a day).
pub const MAX_SECONDS: f64 = 86_400.0;
/// The longest a device call may be allowed, seconds (an hour).
pub const MAX_CALL_S: f64 = 3_600.0;
/// The longest history kept, days (ten years).
pub const MAX_DAYS: f64 = 3_650.0;
/// A camera's full-frame readout, seconds.
pub const MAX_READOUT_S: f64 = 600.0;

/// Filters, or aliases, a filter wheel's section may name.
pub const MAX_WHEEL_NAMES: usize = 64;

// ---- Alerts ----

/// One VOEvent notice, bytes (GCN's are a few kilobytes).
pub const MAX_VOEVENT_BYTES: usize = 1 << 20;
/// Params (in What and its groups) in one notice.
pub const MAX_VOEVENT_PARAMS: usize = 2_000;
/// One strategy file, bytes.
pub const MAX_STRATEGY_BYTES: u64 = 64 << 10;
/// Strategy files in the strategies folder.
pub const MAX_STRATEGIES: usize = 64;
/// Steps of one strategy's exposure ladder.
pub const MAX_LADDER_STEPS: usize = 16;
/// Pointings a strategy may tile an error circle with.
pub const MAX_TILES: usize = 49;
/// Notices waiting for the alert manager (intake paths wait when it is full).
pub const MAX_ALERT_QUEUE: usize = 1_024;
/// Files taken from the watched alert folder at one look.
pub const MAX_ALERT_FILES: usize = 256;
/// A VOEvent Transport Protocol frame, bytes (its 4-byte length says more: the
/// connection is dropped).
pub const MAX_VTP_FRAME: usize = MAX_VOEVENT_BYTES;
/// Kafka topics one consumer reads.
pub const MAX_KAFKA_TOPICS: usize = 64;
/// Bytes asked of a Kafka partition at one fetch.
pub const MAX_KAFKA_FETCH_BYTES: i32 = 4 << 20;

// ---- Catalogues and images for the pipeline ----

/// Stars one catalogue may hold (Tycho-2 has 2.5 million).
pub const MAX_CATALOGUE_STARS: usize = 5_000_000;
/// A star list in text (`ra dec mag` lines), bytes.
pub const MAX_CATALOGUE_TEXT_BYTES: u64 = 256 << 20;
/// Header and data units walked in one FITS file.
pub const MAX_FITS_HDUS: usize = 64;
/// The widest cone a catalogue is asked for, degrees.
pub const MAX_CONE_DEG: f64 = 10.0;
/// An image the pipeline reads, bytes (a 8k x 8k frame of 64-bit reals).
pub const MAX_IMAGE_BYTES: u64 = 8 << 27;
/// An image's side, pixels.
pub const MAX_IMAGE_SIDE: u32 = 16_384;
/// Sources kept from one image (the brightest).
pub const MAX_SOURCES: usize = 100_000;
/// Frames one master calibration frame is built from.
pub const MAX_MASTER_FRAMES: usize = 200;
/// Images waiting in the pipeline's queue that one look takes.
pub const MAX_PIPELINE_BATCH: usize = 64;

// ---- Control commands ----------------------------------------------------

/// A control command waits this long for the majordome, seconds; older, it
/// is refused as expired (an interrupted client's command is not carried
/// out at the next start).
pub const COMMAND_TTL_S: i64 = 120;

// ---- Device protocols ----------------------------------------------------

/// One JSON message of the PyROS socket protocol, bytes.
pub const MAX_SOCKET_MESSAGE: usize = 1 << 20;
/// A socket camera's image message (base64 pixels), bytes.
pub const MAX_SOCKET_IMAGE_MESSAGE: usize = 512 << 20;
/// One INDI message (a BLOB of the largest camera, base64, several times over), bytes.
pub const MAX_INDI_MESSAGE: u64 = 256 << 20;
/// One FITS header text value, characters (a card holds 68).
pub const MAX_FITS_TEXT: usize = 68;

// ---- PLC scenarios -------------------------------------------------------

/// Repetitions of a scenario's steps.
pub const MAX_SCENARIO_ITERATIONS: u64 = 1_000_000;
/// Changes in one scenario.
pub const MAX_SCENARIO_CHANGES: usize = 10_000;

// ---- Agents --------------------------------------------------------------

/// Sensor readings ENV keeps per step.
pub const MAX_READINGS: usize = 2_000;

// ---- Pages and API answers -----------------------------------------------

/// Rows on one page of a list (requests, images, logs); the next page is linked.
pub const PAGE_ROWS: u32 = 50;
/// Characters of a name shown in a list before it is cut with "…".
pub const SHOWN_NAME_CHARS: usize = 80;

// ---- The web server ------------------------------------------------------

/// Bytes of a request body the web server reads: a request XML upload (the
/// same limit as a file), a form, a JSON document.
pub const MAX_WEB_BODY_BYTES: usize = MAX_REQUEST_BYTES as usize;
/// User names and addresses the login limiter remembers at once.
pub const MAX_LOGIN_KEYS: usize = 10_000;
/// Sessions a user may hold open at once (the oldest are closed).
pub const MAX_SESSIONS_PER_USER: i64 = 32;
/// Seconds a control command from the web waits for the majordome's answer.
pub const CONTROL_WAIT_S: u64 = 10;

// ---- Programs, proposals and accounts --------------------------------------

/// Characters of a program's or a proposal's description, of a vote's
/// comment, of the intentions given at registration.
pub const MAX_PROGRAM_TEXT: usize = 4_000;

/// What a request may hold, checked at import (XML, and later forms and the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImportLimits {
    /// Characters of any attribute: names, targets, filters, numbers.
    pub max_text_chars: usize,
    /// Sequences in a request.
    pub max_sequences: usize,
    /// Albums in a sequence.
    pub max_albums: usize,
    /// Plans in an album.
    pub max_plans: usize,
    /// Images in a plan.
    pub max_images: u32,
}

impl ImportLimits {
    /// What an observatory would pick: a night of 10 h at 1 image per 4 s
    /// is 9,000 images; a request holds a season of sequences.
    pub const DEFAULT: Self =
        Self { max_text_chars: 256, max_sequences: 500, max_albums: 8, max_plans: 64, max_images: 10_000 };
    /// What a configuration may raise them to, at most.
    pub const CEILING: Self = Self {
        max_text_chars: 4_096,
        max_sequences: 10_000,
        max_albums: 16,
        max_plans: 1_000,
        max_images: 100_000,
    };

    /// The first limit above its ceiling or at zero, as (key, value, ceiling).
    pub fn beyond_ceiling(&self) -> Option<(&'static str, u64, u64)> {
        let c = Self::CEILING;
        let as64 = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        [
            ("max_text_chars", as64(self.max_text_chars), as64(c.max_text_chars)),
            ("max_sequences", as64(self.max_sequences), as64(c.max_sequences)),
            ("max_albums", as64(self.max_albums), as64(c.max_albums)),
            ("max_plans", as64(self.max_plans), as64(c.max_plans)),
            ("max_images", u64::from(self.max_images), u64::from(c.max_images)),
        ]
        .into_iter()
        .find(|&(_, v, most)| v == 0 || v > most)
    }
}

impl Default for ImportLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_within_their_ceiling() {
        assert_eq!(ImportLimits::DEFAULT.beyond_ceiling(), None);
        assert_eq!(ImportLimits::CEILING.beyond_ceiling(), None);
        let l = ImportLimits { max_plans: 1_001, ..ImportLimits::DEFAULT };
        assert_eq!(l.beyond_ceiling(), Some(("max_plans", 1_001, 1_000)));
        let l = ImportLimits { max_images: 0, ..ImportLimits::DEFAULT };
        assert_eq!(l.beyond_ceiling().map(|b| b.0), Some("max_images"));
    }
}
