//! Decide: from a document's scores and fired rules to its verdict.
//!
//! - [`verdict`]: each fired rule's action (reject, flag, off) makes the verdict, its reasons and flags;
//! - [`ensemble`]: the detectors' columns combined into one calibrated `p_machine` and its rule, with the
//!   cascade that runs expensive models only where the cheap stage is unsure, and the fitting of its policy
//!   file (`svalbard calibrate`);
//! - [`protection`]: vintage documents and trusted publishers' signed works, which no detector rejects.

pub mod ensemble;
pub mod protection;
pub mod verdict;
