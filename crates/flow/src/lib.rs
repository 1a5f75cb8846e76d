#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

pub mod clock;
mod engine;
mod error;
pub mod model;
mod record;
pub mod retry;
pub mod workflow;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{
    BlockingEngine, BlockingWorker, Engine, FlowOptions, ListFilter, MAX_SIGNAL_BYTES, Signalled,
    StartOptions, Started, TickReport, Worker,
};
pub use error::{Error, Result};
pub use model::{
    Command, Compensation, Event, HistoryEvent, HistoryKind, InstanceView, Status, StepCall,
    StepError,
};
pub use retry::RetryPolicy;
pub use workflow::{
    BoxFuture, Registry, Saga, SagaPlan, SagaState, SagaStep, Step, StepContext, Workflow,
};
