//! One file per imported WIT interface, each implementing its generated `Host` trait
//! for [`HostState`](super::store::HostState).

mod context;
mod ledger;
mod log;
mod queue;
mod state;

pub(crate) use ledger::Ledger;
