//! The Ferros domain model. Pure data and rules, no IO: every other crate speaks
//! in these types, and values are validated once, when they enter.

mod device;
mod error;
mod image;
mod log;
mod program;
mod request;
mod schedule;
pub mod text;
pub mod units;
mod user;
mod watch;

pub use device::{Availability, Criticality, DeviceKind, DeviceStatus};
pub use error::DomainError;
pub use image::{CalibrationLevel, Image, ImageKind, Master, PipelineState};
pub use log::{LogEntry, LogLevel};
pub use program::{
    Grade, NewProgram, NewProposal, Period, ProgramChanges, ProgramId, ProgramUsage, Proposal, ProposalId,
    Quota, ScientificProgram, TimeUse, Vote, share,
};
pub use request::{
    Album, AlbumId, AlbumSpec, Constraints, Detector, NewAlbum, NewRequest, NewSequence, Plan, PlanId,
    PlanSpec, Readouts, Request, RequestId, RequestKind, RequestStatus, Sequence, SequenceId, SequenceSpec,
    SequenceStatus, Strategy, Wheel, Wheels, Window, album_duration, summarize_statuses,
};
pub use schedule::{EntryStatus, NewSchedule, Schedule, ScheduleEntry, ScheduleId};
pub use units::{Coordinates, Dec, JulianDate, Priority, PriorityModulation, Ra, Seconds};
pub use user::{Profile, Right, User, UserId, validate_username};
pub use watch::{Decision, GlobalStatus, QuantitySynthesis, Watch};
