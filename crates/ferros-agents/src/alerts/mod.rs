//! The alert manager: intakes of VOEvent notices (a watched folder, VOEvent
//! Transport Protocol brokers, GCN's Kafka topics), all feeding one path,
//! the [`AlertDesk`], which decides with `ferros-alerts` and stores each
//! notice with its effect in one transaction.

mod desk;
mod kafka;
mod vtp;
mod watch;

pub use desk::{ALERTS, AlertDesk, Receipt};
pub use kafka::KafkaIntake;
pub use vtp::{Incoming, VtpIntake, frame, read_frame};
pub use watch::WatchIntake;
