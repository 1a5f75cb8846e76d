//! A ride-hailing dispatcher in miniature: 300 drivers move around Paris for
//! ten minutes (a fix every 5 s, with GPS glitches), some of them heading to
//! Charles de Gaulle airport, whose geofence (minus its cargo zone) emits
//! Enter / Dwell / Exit events; a rider asks for the five nearest drivers;
//! the index is saved to the store and restored, and answers the same.
//!
//! ```text
//! cargo run --release --example geo_dispatch
//! ```

use blocksmith::geo::{
    Fence, FenceEventKind, Fix, GeoIndex, GeoOptions, HistoryOptions, Kind, LatLon, Outcome,
    QueryFilter, RoamingFence,
};
use blocksmith::store::{Store, block_on};
use std::error::Error;

const START_MS: i64 = 1_764_201_600_000; // 2025-11-27T00:00:00Z
const STEP_MS: i64 = 5_000;
const STEPS: i64 = 120; // ten minutes
const DRIVERS: usize = 300;
const M_PER_DEG: f64 = 111_195.0;

/// Deterministic xorshift so every run is the same.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Runs the demo on `store` and returns a one-line summary.
pub(crate) fn demo<S: Store>(store: S) -> Result<String, Box<dyn Error>> {
    let options = GeoOptions::default()
        .with_ttl_ms(Some(120_000))
        .with_max_speed_mps(Some(70.0))
        .with_max_accuracy_m(Some(60.0))
        .with_history(Some(HistoryOptions::default().with_max_points(500)));
    let mut index = GeoIndex::new(options.clone());
    let cdg = (49.0097, 2.5479);
    // Rings of (lat, lon): the boundary, then the cargo zone as a hole.
    let airport = Fence::from_lat_lon(
        "cdg-pickup",
        [
            [
                (48.990, 2.500),
                (48.990, 2.600),
                (49.030, 2.600),
                (49.030, 2.500),
            ],
            [
                (48.995, 2.505),
                (48.995, 2.525),
                (49.005, 2.525),
                (49.005, 2.505),
            ],
        ],
    )?;
    index.add_fence(airport.with_kinds([Kind::Driver]).with_dwell_ms(120_000))?;

    // A rider waiting at Châtelet, with a roaming fence that follows them:
    // drivers coming within 400 m emit Enter (the "driver is close" push).
    index.upsert("rider-1", &Kind::Rider, Fix::new(48.8584, 2.3470, START_MS))?;
    index.add_roaming_fence(
        RoamingFence::new("near-rider-1", "rider-1", 400.0).with_kinds([Kind::Driver]),
    )?;

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let paris = (48.8566, 2.3522);
    // Each driver: position, heading (radians), speed (m/s), bound for CDG?
    let mut drivers: Vec<((f64, f64), f64, f64, bool)> = (0..DRIVERS)
        .map(|i| {
            let bound = i % 20 == 0;
            let start = if bound {
                // Already on the A1, 2-6 km short of the airport.
                let d = 2_000.0 + rng.next() * 4_000.0;
                (cdg.0 - d / M_PER_DEG * 0.8, cdg.1 - d / M_PER_DEG * 0.9)
            } else {
                (
                    paris.0 + (rng.next() - 0.5) * 0.12,
                    paris.1 + (rng.next() - 0.5) * 0.18,
                )
            };
            (
                start,
                rng.next() * std::f64::consts::TAU,
                4.0 + rng.next() * 10.0,
                bound,
            )
        })
        .collect();
    let (mut upserts, mut glitches) = (0usize, 0usize);
    for step in 0..STEPS {
        let t = START_MS + step * STEP_MS;
        for (i, ((lat, lon), heading, speed, bound)) in drivers.iter_mut().enumerate() {
            if *bound {
                // Drive towards the terminal, then wait there.
                let (dn, de) = (
                    (cdg.0 - *lat) * M_PER_DEG,
                    (cdg.1 - *lon) * M_PER_DEG * 0.657,
                );
                let dist = dn.hypot(de);
                let stepm = (*speed * 1.5 * 5.0).min(dist);
                if dist > 1.0 {
                    *lat += dn / dist * stepm / M_PER_DEG;
                    *lon += de / dist * stepm / (M_PER_DEG * 0.657);
                }
            } else {
                *heading += (rng.next() - 0.5) * 0.6;
                *lat += heading.cos() * *speed * 5.0 / M_PER_DEG;
                *lon += heading.sin() * *speed * 5.0 / (M_PER_DEG * 0.657);
            }
            let id = format!("drv-{i:03}");
            let mut fix = Fix::new(*lat, *lon, t)
                .with_accuracy(4.0 + (rng.next() * 10.0) as f32)
                .with_speed(*speed as f32);
            let roll = rng.next();
            if roll < 0.003 {
                // A multipath glitch: 8 km off.
                fix = Fix::new(*lat + 0.07, *lon, t).with_accuracy(6.0);
                glitches += 1;
            } else if roll < 0.006 {
                fix = fix.with_accuracy(250.0); // urban canyon
            }
            index.upsert(&id, &Kind::Driver, fix)?;
            upserts += 1;
            if roll > 0.997 {
                // A retried, delayed request arriving late.
                let late = Fix::new(*lat, *lon, t - 3 * STEP_MS);
                assert!(matches!(
                    index.upsert(&id, &Kind::Driver, late)?,
                    Outcome::OutOfOrder { .. }
                ));
                upserts += 1;
            }
        }
        // One bound driver leaves the airport after the dwell.
        if step == STEPS - 30 {
            drivers[0].3 = false;
            drivers[0].1 = std::f64::consts::PI; // south
            drivers[0].2 = 25.0;
        }
    }
    index.advance_clock(START_MS + STEPS * STEP_MS);
    let (mut enter, mut dwell, mut exit, mut close) = (0, 0, 0, 0);
    for e in index.drain_events() {
        if &*e.fence == "near-rider-1" {
            close += usize::from(e.kind == FenceEventKind::Enter);
            continue;
        }
        match e.kind {
            FenceEventKind::Enter => enter += 1,
            FenceEventKind::Dwell => dwell += 1,
            FenceEventKind::Exit => exit += 1,
            _ => {}
        }
    }
    let stats = index.stats();

    // A rider near Châtelet asks for the five nearest drivers within 3 km.
    let rider = LatLon::new(48.8584, 2.3470)?;
    let drivers_only = QueryFilter::new().with_kind(Kind::Driver);
    let near = index.nearest(rider, 5, Some(3_000.0), &drivers_only)?;
    let nearest: Vec<String> = near
        .iter()
        .map(|h| format!("{} {:.0} m", h.id, h.distance_m))
        .collect();

    // The first driver's trip, simplified for the map.
    let trail = index.trajectory("drv-000").unwrap_or_default();
    let simple = trail.simplify(15.0);
    let line = simple.to_polyline(5)?;

    // Persist, restore, and ask again.
    let saved = block_on(index.save(&store, "dispatch"))?;
    let back = block_on(GeoIndex::load(&store, "dispatch"))?.ok_or("snapshot missing")?;
    assert_eq!(back.options(), &options);
    let same = back.nearest(rider, 5, Some(3_000.0), &drivers_only)? == near;

    Ok(format!(
        "geo     {DRIVERS} drivers, {upserts} upserts ({} rejected jumps for {glitches} glitches, {} out of order, {} low accuracy); \
         rider's nearest 5: {}; airport fence: {enter} enter, {dwell} dwell, {exit} exit; \
         {close} drivers came within 400 m of the rider; \
         drv-000 trail {} -> {} points ({}-char polyline); snapshot {} bytes restored, same answer: {same}",
        stats.rejected_jumps,
        stats.out_of_order,
        stats.low_accuracy,
        nearest.join(", "),
        trail.len(),
        simple.len(),
        line.len(),
        saved.bytes,
    ))
}

#[allow(dead_code)] // also compiled into the tour, which has its own main
fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/geo_dispatch");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let store = blocksmith::store::RedbStore::open(dir.join("dispatch.redb"))?;
    println!("{}", demo(&store)?);
    Ok(())
}
