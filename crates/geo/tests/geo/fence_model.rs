//! Fence evaluation against a brute-force model: after every batch, the
//! events and memberships equal those of a plain point-in-polygon test of
//! every fence ([`Fence::contains_point`]) with Enter / Exit / Dwell applied
//! by hand. Walks with tiny steps (which the index answers from its
//! per-entity cache without any polygon test), steps onto lattice points
//! (vertices and edges exactly), cell changes, kind changes, low-accuracy
//! fixes and fences added or removed in between.

use blocksmith_geo::geo::{LineString, Polygon};
use blocksmith_geo::{Fence, FenceEventKind, Fix, GeoIndex, GeoOptions, Kind, Update};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// Lattice step of fence vertices and of the exact points, in degrees
/// (about 55 m: fences span a few 250 m index cells).
const STEP: f64 = 0.0005;

#[derive(Debug, Clone)]
struct FenceSpec {
    center: (i32, i32),
    ring: Vec<(i32, i32)>,
    hole: bool,
    riders_only: bool,
    dwell_ms: Option<i64>,
}

impl FenceSpec {
    fn fence(&self, id: &str) -> Fence {
        let at = |(x, y): (i32, i32)| {
            (
                f64::from(self.center.0 + x) * STEP,
                f64::from(self.center.1 + y) * STEP,
            )
        };
        let exterior: Vec<(f64, f64)> = self.ring.iter().map(|&p| at(p)).collect();
        let holes = if self.hole {
            // A small square around the centre.
            vec![LineString::from(vec![
                at((-1, -1)),
                at((1, -1)),
                at((1, 1)),
                at((-1, 1)),
            ])]
        } else {
            vec![]
        };
        let mut f = Fence::new(id, Polygon::new(LineString::from(exterior), holes));
        if self.riders_only {
            f = f.with_kinds([Kind::Rider]);
        }
        if let Some(d) = self.dwell_ms {
            f = f.with_dwell_ms(d);
        }
        f
    }
}

fn fence_spec() -> impl Strategy<Value = FenceSpec> {
    (
        (0i32..30, 0i32..30),
        proptest::collection::vec((-8i32..=8, -8i32..=8), 3..8),
        any::<bool>(),
        proptest::bool::weighted(0.3),
        proptest::option::weighted(0.5, 0i64..6_000),
    )
        .prop_map(|(center, ring, hole, riders_only, dwell_ms)| FenceSpec {
            center,
            ring,
            hole,
            riders_only,
            dwell_ms,
        })
}

#[derive(Debug, Clone)]
enum Op {
    /// Entity `e` moves by `(dx, dy)` lattice-free degrees (scaled), or
    /// jumps to a lattice point; maybe with a new kind or poor accuracy.
    Move {
        e: usize,
        to: Target,
        rider: bool,
        low_acc: bool,
    },
    AddFence(FenceSpec),
    RemoveFence(usize),
    /// Apply the pending moves as one batch.
    Flush,
}

#[derive(Debug, Clone)]
enum Target {
    Step(f64, f64, i32),
    Lattice(i32, i32, u8),
}

fn op() -> impl Strategy<Value = Op> {
    let target = prop_oneof![
        4 => (-1.0f64..1.0, -1.0f64..1.0, 3i32..8).prop_map(|(x, y, k)| Target::Step(x, y, k)),
        1 => (0i32..60, 0i32..60, 0u8..3).prop_map(|(x, y, h)| Target::Lattice(x, y, h)),
    ];
    prop_oneof![
        30 => (0usize..3, target, proptest::bool::weighted(0.1), proptest::bool::weighted(0.15))
            .prop_map(|(e, to, rider, low_acc)| Op::Move { e, to, rider, low_acc }),
        1 => fence_spec().prop_map(Op::AddFence),
        1 => (0usize..8).prop_map(Op::RemoveFence),
        6 => Just(Op::Flush),
    ]
}

/// What the model knows of one entity.
#[derive(Default, Clone)]
struct Ent {
    pos: (f64, f64),
    rider: bool,
    /// fence id -> (since, dwelt)
    inside: BTreeMap<String, (i64, bool)>,
}

type Ev = (i64, String, FenceEventKind, String);

struct Model {
    fences: BTreeMap<String, Fence>,
    ents: Vec<Ent>,
}

impl Model {
    fn apply(&mut self, e: usize, lat: f64, lon: f64, rider: bool, ts: i64, out: &mut Vec<Ev>) {
        let kind = if rider { Kind::Rider } else { Kind::Driver };
        let id = format!("e{e}");
        let ent = &mut self.ents[e];
        let now: BTreeSet<String> = self
            .fences
            .iter()
            .filter(|(_, f)| f.kinds.is_empty() || f.kinds.contains(&kind))
            .filter(|(_, f)| f.contains_point(lat, lon))
            .map(|(k, _)| k.clone())
            .collect();
        let gone: Vec<String> = ent
            .inside
            .keys()
            .filter(|k| !now.contains(*k))
            .cloned()
            .collect();
        for f in gone {
            ent.inside.remove(&f);
            out.push((ts, id.clone(), FenceEventKind::Exit, f));
        }
        for f in now {
            let st = ent.inside.entry(f.clone()).or_insert_with(|| {
                out.push((ts, id.clone(), FenceEventKind::Enter, f.clone()));
                (ts, false)
            });
            if !st.1
                && let Some(d) = self.fences[&f].dwell_ms
                && ts - st.0 >= d
            {
                st.1 = true;
                out.push((ts, id.clone(), FenceEventKind::Dwell, f.clone()));
            }
        }
    }
}

fn run(specs: &[FenceSpec], ops: &[Op]) -> Result<(), TestCaseError> {
    let mut index = GeoIndex::new(
        GeoOptions::default()
            .with_max_speed_mps(None)
            .with_max_accuracy_m(Some(50.0)),
    );
    let mut model = Model {
        fences: BTreeMap::new(),
        ents: vec![Ent::default(); 3],
    };
    let mut next_fence = 0;
    let mut add = |index: &mut GeoIndex, model: &mut Model, s: &FenceSpec| {
        let id = format!("f{next_fence}");
        next_fence += 1;
        let f = s.fence(&id);
        if index.add_fence(f.clone()).is_ok() {
            model.fences.insert(id, f);
        }
    };
    for s in specs {
        add(&mut index, &mut model, s);
    }
    // Place every entity once, in the middle of the area.
    let mut ts = 1_000_000;
    for e in 0..3 {
        let (lat, lon) = (0.01 + 0.001 * e as f64, 0.012);
        model.ents[e].pos = (lat, lon);
        index
            .upsert(&format!("e{e}"), &Kind::Driver, Fix::new(lat, lon, ts))
            .unwrap();
        model.apply(e, lat, lon, false, ts, &mut Vec::new());
        ts += 1;
    }
    index.drain_events().count();
    let mut pending: Vec<Update> = Vec::new();
    let mut expected: Vec<Ev> = Vec::new();
    let mut ops = ops.to_vec();
    ops.push(Op::Flush);
    for op in &ops {
        match op {
            Op::Move {
                e,
                to,
                rider,
                low_acc,
            } => {
                ts += 700;
                let ent = &mut model.ents[*e];
                let (lat, lon) = match *to {
                    Target::Step(dx, dy, k) => {
                        let scale = 10f64.powi(-k);
                        (ent.pos.0 + dy * scale, ent.pos.1 + dx * scale)
                    }
                    Target::Lattice(x, y, half) => {
                        // Exactly on the lattice, or half-way between points.
                        let h = f64::from(half) * 0.5;
                        (
                            (f64::from(y) + h) * STEP - 0.002,
                            (f64::from(x) + h) * STEP - 0.002,
                        )
                    }
                };
                let (lat, lon) = (lat.clamp(-0.01, 0.04), lon.clamp(-0.01, 0.04));
                if *rider {
                    ent.rider = !ent.rider;
                }
                let kind = if ent.rider { Kind::Rider } else { Kind::Driver };
                let mut fix = Fix::new(lat, lon, ts);
                if *low_acc {
                    fix = fix.with_accuracy(80.0);
                }
                ent.pos = (lat, lon);
                let rider = ent.rider;
                pending.push(Update::new(format!("e{e}"), kind, fix));
                if !low_acc {
                    model.apply(*e, lat, lon, rider, ts, &mut expected);
                }
            }
            Op::AddFence(_) | Op::RemoveFence(_) | Op::Flush => {
                let r = index.upsert_batch(&pending);
                prop_assert_eq!(r.invalid.len() + r.rejected.len(), 0);
                pending.clear();
                let mut got: Vec<Ev> = index
                    .drain_events()
                    .map(|ev| {
                        (
                            ev.ts_ms,
                            ev.entity.to_string(),
                            ev.kind,
                            ev.fence.to_string(),
                        )
                    })
                    .collect();
                got.sort();
                expected.sort();
                prop_assert_eq!(&got, &expected);
                expected.clear();
                for (e, ent) in model.ents.iter().enumerate() {
                    let info = index.get(&format!("e{e}")).unwrap();
                    let have: BTreeMap<String, i64> = info
                        .fences
                        .iter()
                        .map(|(f, since)| (f.to_string(), *since))
                        .collect();
                    let want: BTreeMap<String, i64> =
                        ent.inside.iter().map(|(f, s)| (f.clone(), s.0)).collect();
                    prop_assert_eq!(have, want, "entity e{}", e);
                }
                match op {
                    Op::AddFence(s) => add(&mut index, &mut model, s),
                    Op::RemoveFence(i) => {
                        let id = format!("f{i}");
                        if index.remove_fence(&id).is_some() {
                            model.fences.remove(&id);
                            for ent in &mut model.ents {
                                ent.inside.remove(&id);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Events and memberships equal the brute-force model's.
    #[test]
    fn fence_events_match_a_brute_force_model(
        specs in proptest::collection::vec(fence_spec(), 1..6),
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        run(&specs, &ops)?;
    }
}

/// Long walks of small steps back and forth across edges and through a
/// hole: most fixes are answered from the cache, every one must still give
/// the model's events.
#[test]
fn small_steps_across_edges_match_the_model() {
    let specs = vec![
        FenceSpec {
            center: (24, 24),
            ring: vec![(-6, -6), (6, -6), (6, 6), (-6, 6)],
            hole: true,
            riders_only: false,
            dwell_ms: Some(3_000),
        },
        FenceSpec {
            center: (27, 25),
            ring: vec![(-5, -2), (4, -6), (5, 5), (-3, 6)],
            hole: false,
            riders_only: false,
            dwell_ms: None,
        },
    ];
    let mut ops = Vec::new();
    let mut r = 0x2545_F491_4F6C_DD1Du64;
    for i in 0..4_000 {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        let dx = ((r >> 11) as f64 / (1u64 << 53) as f64) - 0.45;
        let dy = ((r >> 20) as f64 / (1u64 << 44) as f64) - 0.5;
        ops.push(Op::Move {
            e: i % 3,
            to: Target::Step(dx, dy, 4),
            rider: false,
            low_acc: false,
        });
        if i % 50 == 49 {
            ops.push(Op::Flush);
        }
    }
    run(&specs, &ops).unwrap();
}
