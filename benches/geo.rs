//! blocksmith-geo on a metro-scale workload: one million moving entities
//! around Paris (eight Gaussian hot spots plus a uniform 50 km square).
//!
//! Every measurement runs next to a named baseline in the same run:
//! - upserts: `rstar` R*-tree of unit vectors with remove + insert per move,
//!   and a rebuild (`bulk_load`) of that tree after each batch;
//! - radius / kNN: a full scan over every entity, and the same `rstar` tree
//!   (`locate_within_distance`, `nearest_neighbor_iter` on chords);
//! - geofences: a scan of all 10 k fences (bounding box, then polygon) per
//!   update.
//!
//! ```text
//! cargo bench --bench geo                      # 1 M entities
//! GEO_BENCH_N=200000 cargo bench --bench geo   # smaller
//! GEO_BENCH_SWEEP=1 cargo bench --bench geo    # also sweep the cell size
//! BENCH_CLOCK=cpu cargo bench --bench geo  # thread CPU time (Linux)
//! ```
//!
//! `BENCH_CLOCK=cpu` (or the older `GEO_BENCH_CLOCK=cpu`) measures every routine, ours and the baselines, in
//! on-CPU time of the benchmark thread (`CLOCK_THREAD_CPUTIME_ID`)
//! instead of wall time: on a shared machine it leaves out the time the
//! thread waits for a core, not the cache and memory contention.

use blocksmith::geo::geo::{BoundingRect, Coord, Intersects, LineString, Polygon, Rect};
use blocksmith::geo::{
    EARTH_RADIUS_M, Fence, Fix, GeoIndex, GeoOptions, Kind, LatLon, QueryFilter, Update,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rstar::RTree;
use rstar::primitives::GeomWithData;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/clock.rs"]
mod clock;
use clock::{now, since, timed};

const CENTER: (f64, f64) = (48.8566, 2.3522);
const BATCH: usize = 10_000;
const FENCES: usize = 10_000;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn f(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.f().max(1e-12), self.f());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const M_PER_DEG: f64 = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

fn offset(p: (f64, f64), north_m: f64, east_m: f64) -> (f64, f64) {
    (
        p.0 + north_m / M_PER_DEG,
        p.1 + east_m / (M_PER_DEG * p.0.to_radians().cos()),
    )
}

/// A point of the metro distribution.
fn metro_point(rng: &mut Rng) -> (f64, f64) {
    const SPOTS: [(f64, f64, f64); 8] = [
        (0.0, 0.0, 3_000.0),
        (2_500.0, -4_000.0, 2_000.0),
        (-3_000.0, 5_000.0, 2_500.0),
        (6_000.0, 6_000.0, 4_000.0),
        (-7_000.0, -6_000.0, 3_500.0),
        (15_000.0, 12_000.0, 2_000.0), // CDG
        (-12_000.0, 1_000.0, 1_500.0), // ORY
        (1_000.0, -15_000.0, 3_000.0),
    ];
    if rng.f() < 0.3 {
        offset(
            CENTER,
            (rng.f() - 0.5) * 50_000.0,
            (rng.f() - 0.5) * 50_000.0,
        )
    } else {
        let (n, e, s) = SPOTS[rng.below(SPOTS.len())];
        offset(CENTER, n + rng.normal() * s, e + rng.normal() * s)
    }
}

fn unit(lat: f64, lon: f64) -> [f64; 3] {
    let (sf, cf) = lat.to_radians().sin_cos();
    let (sl, cl) = lon.to_radians().sin_cos();
    [cf * cl, cf * sl, sf]
}

fn chord2(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)
}

fn chord2_of_m(m: f64) -> f64 {
    let s = (m / (2.0 * EARTH_RADIUS_M)).sin();
    4.0 * s * s
}

type Node = GeomWithData<[f64; 3], u32>;

/// One position report: entity index, its id as it arrives in a message
/// (a fresh buffer, not the id the index stores), old and new position.
struct Move {
    i: usize,
    id: String,
    old: (f64, f64),
    new: (f64, f64),
}

/// The world of one run: positions, ids, the index, the baselines.
struct World {
    n: usize,
    ids: Vec<Arc<str>>,
    pos: Vec<(f64, f64)>,
    ts: i64,
    rng: Rng,
    /// Batch number that last moved each entity (one move per batch each).
    stamp: Vec<u32>,
    batch: u32,
}

impl World {
    fn new(n: usize) -> World {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let pos = (0..n).map(|_| metro_point(&mut rng)).collect();
        let ids = (0..n).map(|i| Arc::from(format!("drv-{i:07}"))).collect();
        World {
            n,
            ids,
            pos,
            ts: 1_700_000_000_000,
            rng,
            stamp: vec![0; n],
            batch: 0,
        }
    }

    fn index(&self, options: GeoOptions) -> GeoIndex {
        let mut index = GeoIndex::new(options);
        for (id, &(lat, lon)) in self.ids.iter().zip(&self.pos) {
            index
                .upsert(id, &Kind::Driver, Fix::new(lat, lon, self.ts))
                .expect("valid");
        }
        index
    }

    /// The next batch of moves: random entities, 3-30 m each, one second
    /// later than the previous batch.
    fn moves(&mut self, count: usize) -> Vec<Move> {
        self.ts += 1_000;
        self.batch += 1;
        let count = count.min(self.n);
        (0..count)
            .map(|_| {
                let mut i = self.rng.below(self.n);
                while self.stamp[i] == self.batch {
                    i = self.rng.below(self.n);
                }
                self.stamp[i] = self.batch;
                let old = self.pos[i];
                let d = 3.0 + self.rng.f() * 27.0;
                let a = self.rng.f() * std::f64::consts::TAU;
                let new = offset(old, d * a.cos(), d * a.sin());
                self.pos[i] = new;
                Move {
                    i,
                    id: format!("drv-{i:07}"),
                    old,
                    new,
                }
            })
            .collect()
    }

    /// The next batch of moves as updates.
    fn batch(&mut self, count: usize) -> Vec<Update> {
        let moves = self.moves(count);
        let ts = self.ts;
        moves
            .into_iter()
            .map(|m| Update::new(m.id, Kind::Driver, Fix::new(m.new.0, m.new.1, ts)))
            .collect()
    }

    fn centers(n: usize) -> Vec<LatLon> {
        let mut rng = Rng(42);
        (0..n)
            .map(|_| {
                let (lat, lon) = metro_point(&mut rng);
                LatLon::new(lat, lon).expect("valid")
            })
            .collect()
    }
}

fn rtree(pos: &[(f64, f64)]) -> RTree<Node> {
    RTree::bulk_load(
        pos.iter()
            .enumerate()
            .map(|(i, &(lat, lon))| GeomWithData::new(unit(lat, lon), i as u32))
            .collect(),
    )
}

/// Full scan: the `limit` nearest within `r_m`, by chord.
fn scan(units: &[[f64; 3]], q: &[f64; 3], r_m: f64, limit: usize) -> Vec<(f64, u32)> {
    let r2 = chord2_of_m(r_m);
    let mut hits: Vec<(f64, u32)> = units
        .iter()
        .enumerate()
        .filter_map(|(i, u)| {
            let c = chord2(q, u);
            (c <= r2).then_some((c, i as u32))
        })
        .collect();
    if hits.len() > limit {
        hits.select_nth_unstable_by(limit, |a, b| a.0.total_cmp(&b.0));
        hits.truncate(limit);
    }
    hits.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    hits
}

fn bench_n() -> usize {
    std::env::var("GEO_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000)
}

fn upserts(c: &mut Criterion) {
    let t = Instant::now();
    let mut world = World::new(bench_n());
    let mut index = world.index(GeoOptions::default());
    eprintln!(
        "setup: {} entities generated and indexed in {:.2?}",
        world.n,
        t.elapsed()
    );
    let mut g = c.benchmark_group("geo/upsert");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("grid_index", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let moves = world.moves(BATCH);
                let ts = world.ts;
                let t = now();
                for m in &moves {
                    let (lat, lon) = m.new;
                    black_box(
                        index
                            .upsert(&m.id, &Kind::Driver, Fix::new(lat, lon, ts))
                            .expect("valid"),
                    );
                }
                total += since(t);
            }
            total
        });
    });
    g.bench_function("grid_index_batch", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let batch = world.batch(BATCH);
                let t = now();
                let r = black_box(index.upsert_batch(&batch));
                total += since(t);
                assert_eq!(r.moved, BATCH);
            }
            total
        });
    });
    let s = index.stats();
    eprintln!(
        "grid index: {} moves accepted, {} rejected, {} out of order",
        s.moved, s.rejected_jumps, s.out_of_order
    );
    g.bench_function("baseline_rstar_remove_insert", |b| {
        // Built here: the grid bench above has moved the entities.
        let mut tree = rtree(&world.pos);
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let moves = world.moves(BATCH);
                let t = now();
                for m in &moves {
                    let ((olat, olon), (lat, lon)) = (m.old, m.new);
                    let removed = tree.remove(&GeomWithData::new(unit(olat, olon), m.i as u32));
                    assert!(removed.is_some());
                    tree.insert(GeomWithData::new(unit(lat, lon), m.i as u32));
                }
                total += since(t);
            }
            total
        });
    });
    g.sample_size(10);
    g.bench_function("baseline_rstar_rebuild_per_batch", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                world.moves(BATCH);
                let t = now();
                black_box(rtree(&world.pos));
                total += since(t);
            }
            total
        });
    });
    g.finish();
}

fn queries(c: &mut Criterion) {
    let world = World::new(bench_n());
    let index = world.index(GeoOptions::default());
    let tree = rtree(&world.pos);
    let units: Vec<[f64; 3]> = world.pos.iter().map(|&(a, b)| unit(a, b)).collect();
    let centers = World::centers(1024);
    let all = QueryFilter::new();
    let mut k = 0usize;
    let mut next = || {
        k = (k + 1) % centers.len();
        centers[k]
    };
    {
        let c5: Vec<usize> = centers[..64]
            .iter()
            .map(|&c| index.count_within(c, 5_000.0, &all).expect("ok"))
            .collect();
        let c1: Vec<usize> = centers[..64]
            .iter()
            .map(|&c| index.count_within(c, 1_000.0, &all).expect("ok"))
            .collect();
        eprintln!(
            "entities within 1 km of a query point: mean {}, within 5 km: mean {}",
            c1.iter().sum::<usize>() / 64,
            c5.iter().sum::<usize>() / 64
        );
    }
    let mut g = c.benchmark_group("geo/query");
    for (name, r, limit) in [
        ("radius_1km_limit_100", 1_000.0, 100),
        ("radius_5km_limit_100", 5_000.0, 100),
        ("radius_1km_all_sorted", 1_000.0, usize::MAX),
    ] {
        g.bench_function(BenchmarkId::new(name, "grid_index"), |b| {
            b.iter_custom(|n| {
                timed(n, || {
                    black_box(index.radius(next(), r, limit, &all).expect("ok"));
                })
            });
        });
        g.bench_function(BenchmarkId::new(name, "baseline_rstar"), |b| {
            b.iter_custom(|n| {
                timed(n, || {
                    let c = next();
                    let q = unit(c.lat(), c.lon());
                    let mut hits: Vec<(f64, u32)> = tree
                        .locate_within_distance(q, chord2_of_m(r))
                        .map(|n| (chord2(&q, n.geom()), n.data))
                        .collect();
                    hits.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
                    hits.truncate(limit);
                    black_box(hits)
                })
            });
        });
        g.bench_function(BenchmarkId::new(name, "baseline_full_scan"), |b| {
            b.iter_custom(|n| {
                timed(n, || {
                    let c = next();
                    black_box(scan(&units, &unit(c.lat(), c.lon()), r, limit))
                })
            });
        });
    }
    g.bench_function(BenchmarkId::new("count_5km", "grid_index"), |b| {
        b.iter_custom(|n| {
            timed(n, || {
                black_box(index.count_within(next(), 5_000.0, &all).expect("ok"));
            })
        });
    });
    g.bench_function(
        BenchmarkId::new("radius_5km_all_sorted", "grid_index"),
        |b| {
            b.iter_custom(|n| {
                timed(n, || {
                    black_box(index.radius(next(), 5_000.0, usize::MAX, &all).expect("ok"));
                })
            });
        },
    );
    g.bench_function(BenchmarkId::new("knn_10", "grid_index"), |b| {
        b.iter_custom(|n| {
            timed(n, || {
                black_box(index.nearest(next(), 10, None, &all).expect("ok"));
            })
        });
    });
    g.bench_function(BenchmarkId::new("knn_10", "baseline_rstar"), |b| {
        b.iter_custom(|n| {
            timed(n, || {
                let c = next();
                let q = unit(c.lat(), c.lon());
                black_box(
                    tree.nearest_neighbor_iter(&q)
                        .take(10)
                        .map(|n| n.data)
                        .collect::<Vec<_>>(),
                )
            })
        });
    });
    g.bench_function(BenchmarkId::new("knn_10", "baseline_full_scan"), |b| {
        b.iter_custom(|n| {
            timed(n, || {
                let c = next();
                black_box(scan(&units, &unit(c.lat(), c.lon()), f64::MAX / 4.0, 10))
            })
        });
    });
    g.finish();
}

/// A 12-sided fence (venue, pickup zone, depot) of radius 50-300 m, one in
/// five with a hole, placed like the entities.
fn fence_polygon(rng: &mut Rng) -> Polygon<f64> {
    let c = metro_point(rng);
    let r = 50.0 + rng.f() * 250.0;
    let ring = |scale: f64| -> LineString<f64> {
        (0..12)
            .map(|i| {
                let a = f64::from(i) * std::f64::consts::TAU / 12.0;
                let (lat, lon) = offset(c, r * scale * a.cos(), r * scale * a.sin());
                (lon, lat)
            })
            .collect::<Vec<_>>()
            .into()
    };
    let holes = if rng.below(5) == 0 {
        vec![ring(0.4)]
    } else {
        vec![]
    };
    Polygon::new(ring(1.0), holes)
}

fn geofences(c: &mut Criterion) {
    let mut world = World::new(bench_n());
    let mut index = world.index(GeoOptions::default());
    let mut rng = Rng(7);
    let polys: Vec<Polygon<f64>> = (0..FENCES).map(|_| fence_polygon(&mut rng)).collect();
    for (i, p) in polys.iter().enumerate() {
        index
            .add_fence(Fence::new(format!("fence-{i:05}"), p.clone()))
            .expect("valid");
    }
    let rects: Vec<Rect<f64>> = polys
        .iter()
        .map(|p| p.bounding_rect().expect("non-empty"))
        .collect();
    {
        // How much the fences overlap where entities are.
        let (mut boxes, mut inside) = (0usize, 0usize);
        let mut prng = Rng(99);
        for _ in 0..2_000 {
            let (lat, lon) = metro_point(&mut prng);
            let p = Coord { x: lon, y: lat };
            for (r, poly) in rects.iter().zip(&polys) {
                if r.intersects(&p) {
                    boxes += 1;
                    inside += usize::from(poly.intersects(&p));
                }
            }
        }
        eprintln!(
            "fences per entity position: {:.2} bounding boxes, {:.2} containing",
            boxes as f64 / 2_000.0,
            inside as f64 / 2_000.0
        );
    }
    // Settle the fence state of every entity once.
    let moves = world.moves(world.n);
    for m in &moves {
        let _ = index.upsert(&m.id, &Kind::Driver, Fix::new(m.new.0, m.new.1, world.ts));
    }
    index.drain_events().count();
    let mut g = c.benchmark_group("geo/geofence_10k");
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut events = 0usize;
    let mut updates = 0usize;
    g.bench_function("grid_index_upsert_batch_with_fences", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let batch = world.batch(BATCH);
                let t = now();
                black_box(index.upsert_batch(&batch));
                events += index.drain_events().count();
                total += since(t);
                updates += BATCH;
            }
            total
        });
    });
    g.bench_function("grid_index_upsert_with_fences", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let moves = world.moves(BATCH);
                let ts = world.ts;
                let t = now();
                for m in &moves {
                    let (lat, lon) = m.new;
                    black_box(
                        index
                            .upsert(&m.id, &Kind::Driver, Fix::new(lat, lon, ts))
                            .expect("valid"),
                    );
                }
                events += index.drain_events().count();
                total += since(t);
                updates += BATCH;
            }
            total
        });
    });
    eprintln!(
        "geofence events: {events} for {updates} updates ({:.4} per update)",
        events as f64 / updates.max(1) as f64
    );
    g.bench_function("fences_containing_only", |b| {
        b.iter_custom(|iters| {
            let pts: Vec<LatLon> = (0..BATCH * iters as usize)
                .map(|_| {
                    let (lat, lon) = metro_point(&mut rng);
                    LatLon::new(lat, lon).expect("valid")
                })
                .collect();
            let t = now();
            for &p in &pts {
                black_box(index.fences_containing(p, Some(&Kind::Driver)));
            }
            since(t)
        });
    });
    g.throughput(Throughput::Elements(1_000));
    g.bench_function("baseline_scan_all_fences", |b| {
        b.iter_custom(|iters| {
            let pts: Vec<(f64, f64)> = (0..1_000 * iters as usize)
                .map(|_| metro_point(&mut rng))
                .collect();
            let t = now();
            for &(lat, lon) in &pts {
                let p = Coord { x: lon, y: lat };
                let inside: Vec<usize> = rects
                    .iter()
                    .zip(&polys)
                    .enumerate()
                    .filter(|(_, (r, poly))| r.intersects(&p) && poly.intersects(&p))
                    .map(|(i, _)| i)
                    .collect();
                black_box(inside);
            }
            since(t)
        });
    });
    g.finish();
}

/// Optional: how the cell size trades upserts against queries.
fn cell_sweep(c: &mut Criterion) {
    if std::env::var_os("GEO_BENCH_SWEEP").is_none() {
        return;
    }
    let mut world = World::new(bench_n());
    let centers = World::centers(1024);
    let all = QueryFilter::new();
    let mut g = c.benchmark_group("geo/cell_size");
    for cell in [100.0, 250.0, 500.0, 1000.0] {
        let mut index = world.index(GeoOptions::default().with_cell_size_m(cell));
        let mut k = 0;
        g.bench_function(BenchmarkId::new("radius_5km_limit_100", cell), |b| {
            b.iter_custom(|n| {
                timed(n, || {
                    k = (k + 1) % centers.len();
                    black_box(index.radius(centers[k], 5_000.0, 100, &all).expect("ok"))
                })
            });
        });
        g.bench_function(BenchmarkId::new("radius_1km_all_sorted", cell), |b| {
            b.iter_custom(|n| {
                timed(n, || {
                    k = (k + 1) % centers.len();
                    black_box(
                        index
                            .radius(centers[k], 1_000.0, usize::MAX, &all)
                            .expect("ok"),
                    )
                })
            });
        });
        g.bench_function(BenchmarkId::new("upsert_batch_10k", cell), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let moves = world.moves(BATCH);
                    let ts = world.ts;
                    let t = now();
                    for m in &moves {
                        let _ = index.upsert(&m.id, &Kind::Driver, Fix::new(m.new.0, m.new.1, ts));
                    }
                    total += since(t);
                }
                total
            });
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
}

criterion_group! {
    name = benches;
    config = config();
    targets = upserts, queries, geofences, cell_sweep
}
criterion_main!(benches);
