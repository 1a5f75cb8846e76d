#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

pub mod csv;
mod error;
mod fence;
mod grid;
mod huge;
mod id;
mod index;
mod kind;
pub mod persist;
pub mod polyline;
mod roam;
pub mod snapshot;
mod sphere;
mod trajectory;

pub use error::{Error, Result};
pub use fence::{Fence, FenceEvent, FenceEventKind, MAX_ID_LEN};
pub use index::{
    BBox, BatchReport, EntityInfo, Fix, GeoIndex, GeoOptions, Hit, Outcome, QueryFilter, Rejection,
    Stats, Update,
};
pub use kind::{Kind, MAX_KIND_LEN};
pub use roam::RoamingFence;
pub use sphere::{EARTH_RADIUS_M, LatLon, MAX_DISTANCE_M, distance_m};
pub use trajectory::{HistoryOptions, TrackPoint, Trajectory};

/// Re-export of the `geo` crate whose polygon types fences use.
pub use geo;
