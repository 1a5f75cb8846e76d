//! `blocksmith geo ...`: load positions into the stored index, ask who is
//! nearby, manage geofences.
//!
//! The index lives in the store as the snapshot `geo/<index>/...` (see
//! `blocksmith_geo::persist`); every command restores it, works, and saves
//! it back when it changed.

use crate::backend::CliStore;
use crate::files;
use crate::output::{CliError, Output};
use crate::progress;
use blocksmith_geo::geo::{Coord, LineString, MultiPolygon, Polygon};
use blocksmith_geo::{Fence, GeoIndex, GeoOptions, Kind, LatLon, QueryFilter, RoamingFence, csv};
use blocksmith_store::block_on;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub(crate) enum GeoCmd {
    /// Load positions from a CSV file (header `id,kind,lat,lon,ts`; optional
    /// `accuracy,speed,heading`; ts in milliseconds) into the stored index.
    Load {
        /// The CSV file (`-`: standard input).
        csv: PathBuf,
        #[command(flatten)]
        at: IndexArg,
    },
    /// Entities within RADIUS_M metres (great-circle) of LAT LON, nearest first.
    Nearby {
        /// Latitude, degrees.
        #[arg(allow_negative_numbers = true)]
        lat: f64,
        /// Longitude, degrees.
        #[arg(allow_negative_numbers = true)]
        lon: f64,
        /// Radius in metres.
        radius_m: f64,
        /// At most this many entities.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Only entities of this kind (driver, rider, asset or a tag); repeatable.
        #[arg(long = "kind")]
        kinds: Vec<String>,
        #[command(flatten)]
        at: IndexArg,
    },
    /// Add, list, remove geofences; check which contain a point.
    #[command(subcommand)]
    Fence(FenceCmd),
}

#[derive(Subcommand, Debug)]
pub(crate) enum FenceCmd {
    /// Add a fence from a GeoJSON Polygon or MultiPolygon (coordinates
    /// `[lon, lat]`, holes allowed), given inline or as `@FILE`.
    Add {
        /// Fence id.
        id: String,
        /// GeoJSON geometry (or Feature), or `@path/to/file.geojson` (`@-`: standard input).
        #[arg(long)]
        geojson: String,
        /// Apply only to this kind; repeatable (default: every kind).
        #[arg(long = "kind")]
        kinds: Vec<String>,
        /// Emit Dwell after this many seconds inside.
        #[arg(long)]
        dwell_s: Option<u32>,
        #[command(flatten)]
        at: IndexArg,
    },
    /// Add a roaming fence: a circle of RADIUS_M metres that follows
    /// entity ANCHOR.
    Roam {
        /// Fence id.
        id: String,
        /// Id of the entity the fence follows.
        anchor: String,
        /// Radius in metres.
        radius_m: f64,
        /// Apply only to this kind; repeatable (default: every kind).
        #[arg(long = "kind")]
        kinds: Vec<String>,
        /// Emit Dwell after this many seconds inside.
        #[arg(long)]
        dwell_s: Option<u32>,
        #[command(flatten)]
        at: IndexArg,
    },
    /// List fences (polygon and roaming) with their members.
    List {
        #[command(flatten)]
        at: IndexArg,
    },
    /// Remove a fence.
    Remove {
        /// Fence id.
        id: String,
        #[command(flatten)]
        at: IndexArg,
    },
    /// Fences containing LAT LON.
    Check {
        /// Latitude, degrees.
        #[arg(allow_negative_numbers = true)]
        lat: f64,
        /// Longitude, degrees.
        #[arg(allow_negative_numbers = true)]
        lon: f64,
        /// Only fences that apply to this kind.
        #[arg(long)]
        kind: Option<String>,
        #[command(flatten)]
        at: IndexArg,
    },
}

#[derive(Args, Debug)]
pub(crate) struct IndexArg {
    /// Name of the index in the store.
    #[arg(long = "index", default_value = "default")]
    name: String,
}

impl From<blocksmith_geo::Error> for CliError {
    fn from(e: blocksmith_geo::Error) -> Self {
        use blocksmith_geo::Error as E;
        match e {
            E::Store(e) => e.into(),
            E::DuplicateFence { .. } => CliError::Conflict(crate::output::report(&e)),
            E::NotFound { .. } => CliError::NotFound(crate::output::report(&e)),
            E::Snapshot { .. } => CliError::Internal(format!(
                "stored geo index is unreadable: {}",
                crate::output::report(&e)
            )),
            _ => CliError::BadInput(crate::output::report(&e)),
        }
    }
}

/// Rows upserted between two ticks of `geo load`'s bar.
const BATCH: usize = 4096;

fn open(dir: &Path) -> Result<CliStore, CliError> {
    crate::backend::open(dir)
}

fn options() -> GeoOptions {
    GeoOptions::default()
}

fn load_index(store: &CliStore, name: &str) -> Result<Option<GeoIndex>, CliError> {
    Ok(block_on(GeoIndex::load(store, name))?)
}

fn require_index(store: &CliStore, name: &str) -> Result<GeoIndex, CliError> {
    load_index(store, name)?.ok_or_else(|| {
        CliError::NotFound(format!(
            "no geo index {name:?} in the store (run `blocksmith geo load` or `geo fence add` first)"
        ))
    })
}

fn save(store: &CliStore, name: &str, index: &GeoIndex) -> Result<(), CliError> {
    block_on(index.save(store, name))?;
    Ok(())
}

fn point(lat: f64, lon: f64) -> Result<LatLon, CliError> {
    Ok(LatLon::new(lat, lon)?)
}

fn ring(v: &Value, what: &str) -> Result<LineString<f64>, CliError> {
    let bad = || {
        CliError::BadInput(format!(
            "{what}: a ring is an array of [lon, lat] positions"
        ))
    };
    let coords = v
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|p| match p.as_array().map(Vec::as_slice) {
            Some([x, y, ..]) => Ok(Coord {
                x: x.as_f64().ok_or_else(bad)?,
                y: y.as_f64().ok_or_else(bad)?,
            }),
            _ => Err(bad()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(LineString(coords))
}

fn polygon(v: &Value, what: &str) -> Result<Polygon<f64>, CliError> {
    let rings = v.as_array().filter(|r| !r.is_empty()).ok_or_else(|| {
        CliError::BadInput(format!("{what}: a polygon is a non-empty array of rings"))
    })?;
    let mut rings = rings
        .iter()
        .map(|r| ring(r, what))
        .collect::<Result<Vec<_>, _>>()?;
    let exterior = rings.remove(0);
    Ok(Polygon::new(exterior, rings))
}

/// A GeoJSON Polygon / MultiPolygon geometry, or a Feature holding one.
fn parse_geojson(text: &str) -> Result<MultiPolygon<f64>, CliError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| CliError::BadInput(format!("GeoJSON is not valid JSON: {e}")))?;
    let geom = if v["type"] == "Feature" {
        &v["geometry"]
    } else {
        &v
    };
    let coords = &geom["coordinates"];
    match geom["type"].as_str() {
        Some("Polygon") => Ok(MultiPolygon(vec![polygon(coords, "Polygon")?])),
        Some("MultiPolygon") => coords
            .as_array()
            .ok_or_else(|| CliError::BadInput("MultiPolygon: coordinates must be an array".into()))?
            .iter()
            .map(|p| polygon(p, "MultiPolygon"))
            .collect::<Result<Vec<_>, _>>()
            .map(MultiPolygon),
        other => Err(CliError::BadInput(format!(
            "GeoJSON type {other:?}: expected Polygon, MultiPolygon or a Feature holding one"
        ))),
    }
}

fn roaming_json(index: &GeoIndex, f: &RoamingFence) -> Value {
    let members = index.fence_members(&f.id).unwrap_or_default();
    let center = index
        .roaming_fence_center(&f.id)
        .map(|c| json!({"lat": c.lat(), "lon": c.lon()}));
    json!({
        "id": &*f.id,
        "type": "roaming",
        "anchor": &*f.anchor,
        "radius_m": f.radius_m,
        "center": center,
        "kinds": f.kinds.iter().map(Kind::as_str).collect::<Vec<_>>(),
        "dwell_ms": f.dwell_ms,
        "members": members.iter().map(|m| &**m).collect::<Vec<_>>(),
    })
}

fn fence_json(index: &GeoIndex, f: &Fence) -> Value {
    let members = index.fence_members(&f.id).unwrap_or_default();
    json!({
        "id": &*f.id,
        "type": "polygon",
        "kinds": f.kinds.iter().map(Kind::as_str).collect::<Vec<_>>(),
        "dwell_ms": f.dwell_ms,
        "polygons": f.shape.0.len(),
        "holes": f.shape.0.iter().map(|p| p.interiors().len()).sum::<usize>(),
        "vertices": f.shape.0.iter().map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>()).sum::<usize>(),
        "members": members.iter().map(|m| &**m).collect::<Vec<_>>(),
    })
}

pub(crate) fn run(cmd: GeoCmd, store_dir: &Path, out: &Output) -> Result<(), CliError> {
    let store = open(store_dir)?;
    match cmd {
        GeoCmd::Load { csv: path, at } => {
            let bytes = files::read(&path)?;
            let updates = csv::parse(&bytes)?;
            let mut index =
                load_index(&store, &at.name)?.unwrap_or_else(|| GeoIndex::new(options()));
            // In batches, so a bar can count the rows; positions stay those of the file.
            let bar = progress::count(updates.len() as u64, "rows", out);
            let mut report = blocksmith_geo::BatchReport::default();
            for (n, part) in updates.chunks(BATCH).enumerate() {
                let r = index.upsert_batch(part);
                let base = n * BATCH;
                report.inserted += r.inserted;
                report.moved += r.moved;
                report.out_of_order += r.out_of_order;
                report
                    .rejected
                    .extend(r.rejected.into_iter().map(|(i, w)| (base + i, w)));
                report
                    .invalid
                    .extend(r.invalid.into_iter().map(|(i, e)| (base + i, e)));
                bar.inc(part.len() as u64);
            }
            bar.finish_and_clear();
            let events = index.drain_events().count();
            save(&store, &at.name, &index)?;
            let rejected: Vec<Value> = report
                .rejected
                .iter()
                .map(|(i, why)| json!({"id": &*updates[*i].id, "ts": updates[*i].fix.ts_ms, "reason": why.to_string()}))
                .chain(report.invalid.iter().map(|(i, e)| json!({"id": &*updates[*i].id, "ts": updates[*i].fix.ts_ms, "reason": e.to_string()})))
                .collect();
            let value = json!({
                "rows": updates.len(),
                "inserted": report.inserted,
                "moved": report.moved,
                "out_of_order": report.out_of_order,
                "rejected": rejected,
                "entities": index.len(),
                "fence_events": events,
            });
            out.emit(&value, || {
                let mut s = format!(
                    "{} rows: {} new, {} moved, {} out of order, {} rejected; {} entities, {} fence events",
                    updates.len(),
                    report.inserted,
                    report.moved,
                    report.out_of_order,
                    rejected.len(),
                    index.len(),
                    events
                );
                for r in &rejected {
                    let _ = write!(s, "\n  rejected {} at {}: {}", r["id"], r["ts"], r["reason"].as_str().unwrap_or(""));
                }
                s
            });
        }
        GeoCmd::Nearby {
            lat,
            lon,
            radius_m,
            limit,
            kinds,
            at,
        } => {
            let index = require_index(&store, &at.name)?;
            let mut filter = QueryFilter::new();
            for k in &kinds {
                filter = filter.with_kind(Kind::parse(k));
            }
            let hits = index.radius(point(lat, lon)?, radius_m, limit, &filter)?;
            let value = json!(
                hits.iter()
                    .map(|h| json!({
                        "id": &*h.id,
                        "kind": h.kind.as_str(),
                        "lat": h.fix.lat,
                        "lon": h.fix.lon,
                        "ts": h.fix.ts_ms,
                        "distance_m": (h.distance_m * 100.0).round() / 100.0,
                        "low_accuracy": h.low_accuracy,
                    }))
                    .collect::<Vec<_>>()
            );
            out.emit(&value, || {
                if hits.is_empty() {
                    return format!("nothing within {radius_m} m");
                }
                let mut s = format!(
                    "{:<24} {:<10} {:>12} {:>11} {:>12}",
                    "id", "kind", "lat", "lon", "distance m"
                );
                for h in &hits {
                    let _ = write!(
                        s,
                        "\n{:<24} {:<10} {:>12.6} {:>11.6} {:>12.1}",
                        h.id,
                        h.kind.as_str(),
                        h.fix.lat,
                        h.fix.lon,
                        h.distance_m
                    );
                }
                s
            });
        }
        GeoCmd::Fence(FenceCmd::Add {
            id,
            geojson,
            kinds,
            dwell_s,
            at,
        }) => {
            let text = match geojson.strip_prefix('@') {
                Some(file) => String::from_utf8(files::read(Path::new(file))?)
                    .map_err(|_| CliError::BadInput(format!("{file}: not UTF-8 text")))?,
                None => geojson,
            };
            let shape = parse_geojson(&text)?;
            let mut fence =
                Fence::new(id.as_str(), shape).with_kinds(kinds.iter().map(|k| Kind::parse(k)));
            if let Some(s) = dwell_s {
                fence = fence.with_dwell_ms(i64::from(s) * 1000);
            }
            let mut index =
                load_index(&store, &at.name)?.unwrap_or_else(|| GeoIndex::new(options()));
            index.add_fence(fence)?;
            save(&store, &at.name, &index)?;
            let f = index
                .fence(&id)
                .ok_or_else(|| CliError::Internal("fence vanished".into()))?;
            let value = fence_json(&index, f);
            out.emit(&value, || {
                format!("added fence {id} ({} vertices)", value["vertices"])
            });
        }
        GeoCmd::Fence(FenceCmd::Roam {
            id,
            anchor,
            radius_m,
            kinds,
            dwell_s,
            at,
        }) => {
            let mut fence = RoamingFence::new(id.as_str(), anchor.as_str(), radius_m)
                .with_kinds(kinds.iter().map(|k| Kind::parse(k)));
            if let Some(s) = dwell_s {
                fence = fence.with_dwell_ms(i64::from(s) * 1000);
            }
            let mut index =
                load_index(&store, &at.name)?.unwrap_or_else(|| GeoIndex::new(options()));
            index.add_roaming_fence(fence)?;
            save(&store, &at.name, &index)?;
            let f = index
                .roaming_fence(&id)
                .ok_or_else(|| CliError::Internal("fence vanished".into()))?;
            let value = roaming_json(&index, f);
            out.emit(&value, || {
                format!("added roaming fence {id}: {radius_m} m around {anchor}")
            });
        }
        GeoCmd::Fence(FenceCmd::List { at }) => {
            let index = load_index(&store, &at.name)?.unwrap_or_else(|| GeoIndex::new(options()));
            let mut fences: Vec<Value> = index
                .fences()
                .into_iter()
                .map(|f| fence_json(&index, f))
                .chain(
                    index
                        .roaming_fences()
                        .into_iter()
                        .map(|f| roaming_json(&index, f)),
                )
                .collect();
            fences.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
            out.emit(&json!(fences), || {
                let mut s = String::new();
                for f in &fences {
                    let inside = f["members"].as_array().map_or(0, Vec::len);
                    let id = f["id"].as_str().unwrap_or("");
                    let _ = if f["type"] == "roaming" {
                        writeln!(
                            s,
                            "{id:<24} {} m around {}, {inside} inside",
                            f["radius_m"].as_f64().unwrap_or(0.0),
                            f["anchor"].as_str().unwrap_or("")
                        )
                    } else {
                        writeln!(
                            s,
                            "{id:<24} {} polygon(s), {} hole(s), {} vertices, {inside} inside",
                            f["polygons"], f["holes"], f["vertices"],
                        )
                    };
                }
                s.trim_end().to_string()
            });
        }
        GeoCmd::Fence(FenceCmd::Remove { id, at }) => {
            let mut index = require_index(&store, &at.name)?;
            if index.remove_fence(&id).is_none() && index.remove_roaming_fence(&id).is_none() {
                return Err(CliError::NotFound(format!("no fence {id:?}")));
            }
            save(&store, &at.name, &index)?;
            out.emit(&json!({"removed": id}), || format!("removed fence {id}"));
        }
        GeoCmd::Fence(FenceCmd::Check { lat, lon, kind, at }) => {
            let index = load_index(&store, &at.name)?.unwrap_or_else(|| GeoIndex::new(options()));
            let kind = kind.map(|k| Kind::parse(&k));
            let ids = index.fences_containing(point(lat, lon)?, kind.as_ref());
            let ids: Vec<&str> = ids.iter().map(|s| &**s).collect();
            out.emit(&json!(ids), || {
                if ids.is_empty() {
                    "no fence contains this point".to_string()
                } else {
                    ids.join("\n")
                }
            });
        }
    }
    Ok(())
}
