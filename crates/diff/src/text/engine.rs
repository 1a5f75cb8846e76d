//! The diff core: common prefix/suffix trimming on the raw tokens, 64-bit
//! hashing, radix-partitioned interning into dense ids, then the chosen
//! algorithm (imara-diff's histogram and Myers, `similar`'s minimal Myers and
//! patience with a deadline), and a final check that every pair of tokens
//! reported equal really is equal (a hash collision falls back to exact
//! interning, so a collision can never produce a wrong diff).

use super::{Algorithm, Edit};
use hashbrown::HashMap;
use imara_diff::Token;
use std::hash::{BuildHasher, Hasher};
use std::ops::Range;
use std::time::Instant;

/// Below this many tokens a hash map (cache resident) beats partitioning.
const PARTITION_MIN: usize = 1 << 15;

/// Computes the edits turning `old` into `new`.
pub(crate) fn diff(
    old: &[&str],
    new: &[&str],
    algorithm: Algorithm,
    deadline: Option<Instant>,
) -> Vec<Edit> {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let max_suffix = old.len().min(new.len()) - prefix;
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    let a = &old[prefix..old.len() - suffix];
    let b = &new[prefix..new.len() - suffix];
    let mut edits = if a.is_empty() && b.is_empty() {
        Vec::new()
    } else if a.is_empty() || b.is_empty() {
        vec![Edit {
            old: 0..a.len(),
            new: 0..b.len(),
        }]
    } else {
        let state = hashbrown::DefaultHashBuilder::default();
        let hashes: Vec<u64> = a
            .iter()
            .chain(b)
            .map(|t| state.hash_one(t.as_bytes()))
            .collect();
        let (ids, n) = dense_ids(&hashes);
        let found = run(&ids[..a.len()], &ids[a.len()..], n, algorithm, deadline);
        if verify(a, b, &found) {
            found
        } else {
            // A 64-bit collision: intern exactly and diff again; should that
            // still not verify, replace everything (always correct).
            let (ids, n) = exact_ids(a.iter().chain(b).copied());
            let exact = run(&ids[..a.len()], &ids[a.len()..], n, algorithm, deadline);
            if verify(a, b, &exact) {
                exact
            } else {
                vec![Edit {
                    old: 0..a.len(),
                    new: 0..b.len(),
                }]
            }
        }
    };
    for e in &mut edits {
        e.old = e.old.start + prefix..e.old.end + prefix;
        e.new = e.new.start + prefix..e.new.end + prefix;
    }
    edits
}

fn run(
    a: &[Token],
    b: &[Token],
    num_tokens: u32,
    algorithm: Algorithm,
    deadline: Option<Instant>,
) -> Vec<Edit> {
    match algorithm {
        Algorithm::Histogram | Algorithm::Myers => {
            let alg = if algorithm == Algorithm::Histogram {
                imara_diff::Algorithm::Histogram
            } else {
                imara_diff::Algorithm::Myers
            };
            let mut d = imara_diff::Diff::default();
            d.compute_with(alg, a, b, num_tokens);
            normalize(
                d.hunks()
                    .map(|h| Edit {
                        old: h.before.start as usize..h.before.end as usize,
                        new: h.after.start as usize..h.after.end as usize,
                    })
                    .collect(),
            )
        }
        Algorithm::MyersMinimal | Algorithm::Patience => {
            let ops = if algorithm == Algorithm::Patience {
                let mut d = similar::algorithms::Capture::new();
                // Patience on its own reports unique-line anchors; the capture keeps raw ops.
                let _ = similar::algorithms::patience::diff_deadline(
                    &mut d,
                    a,
                    0..a.len(),
                    b,
                    0..b.len(),
                    deadline,
                );
                d.into_ops()
            } else {
                let mut d = similar::algorithms::Capture::new();
                let _ = similar::algorithms::myers::diff_deadline_raw(
                    &mut d,
                    a,
                    0..a.len(),
                    b,
                    0..b.len(),
                    deadline,
                );
                d.into_ops()
            };
            edits_from_equal_runs(&ops, a.len(), b.len())
        }
    }
}

/// Edits from the equal runs of an op list alone: everything between two
/// equal runs is one edit. Robust to how a deadline-cut run orders its
/// deletes and inserts; a non-monotonic equal run is treated as changed.
fn edits_from_equal_runs(ops: &[similar::DiffOp], a_len: usize, b_len: usize) -> Vec<Edit> {
    let mut out = Vec::new();
    let (mut oi, mut ni) = (0, 0);
    for op in ops {
        if let similar::DiffOp::Equal {
            old_index,
            new_index,
            len,
        } = *op
        {
            if len == 0
                || old_index < oi
                || new_index < ni
                || old_index + len > a_len
                || new_index + len > b_len
            {
                continue;
            }
            if old_index > oi || new_index > ni {
                out.push(Edit {
                    old: oi..old_index,
                    new: ni..new_index,
                });
            }
            oi = old_index + len;
            ni = new_index + len;
        }
    }
    if oi < a_len || ni < b_len {
        out.push(Edit {
            old: oi..a_len,
            new: ni..b_len,
        });
    }
    out
}

/// Sorts and merges touching edits so that edits are separated by at least
/// one equal token.
fn normalize(mut edits: Vec<Edit>) -> Vec<Edit> {
    edits.retain(|e| !(e.old.is_empty() && e.new.is_empty()));
    edits.sort_by_key(|e| (e.old.start, e.new.start));
    let mut out: Vec<Edit> = Vec::with_capacity(edits.len());
    for e in edits {
        if let Some(last) = out.last_mut()
            && last.old.end == e.old.start
            && last.new.end == e.new.start
        {
            last.old.end = e.old.end;
            last.new.end = e.new.end;
            continue;
        }
        out.push(e);
    }
    out
}

/// Checks that the edits are consistent and that every token they leave
/// unchanged is equal on both sides.
fn verify(a: &[&str], b: &[&str], edits: &[Edit]) -> bool {
    let (mut i, mut j) = (0, 0);
    let check = |i: usize, j: usize, oi: usize, nj: usize| -> bool {
        oi >= i && nj >= j && oi - i == nj - j && a[i..oi] == b[j..nj]
    };
    for e in edits {
        if e.old.end > a.len() || e.new.end > b.len() || !check(i, j, e.old.start, e.new.start) {
            return false;
        }
        i = e.old.end;
        j = e.new.end;
    }
    check(i, j, a.len(), b.len())
}

#[derive(Default, Clone, Copy)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

#[derive(Default, Clone, Copy)]
struct Identity;

impl BuildHasher for Identity {
    type Hasher = IdentityHasher;
    fn build_hasher(&self) -> IdentityHasher {
        IdentityHasher(0)
    }
}

/// Dense ids (0..n) for already-hashed tokens: equal hashes get equal ids.
///
/// Large inputs are radix-partitioned by the hash's top bits and each
/// partition sorted in cache, which avoids the cache miss per token that a
/// million-entry hash table costs.
pub(crate) fn dense_ids(hashes: &[u64]) -> (Vec<Token>, u32) {
    let n = hashes.len();
    if n < PARTITION_MIN {
        let mut map: HashMap<u64, u32, Identity> = HashMap::with_capacity_and_hasher(n, Identity);
        let mut next = 0u32;
        let ids = hashes
            .iter()
            .map(|&h| {
                Token(*map.entry(h).or_insert_with(|| {
                    next += 1;
                    next - 1
                }))
            })
            .collect();
        return (ids, next);
    }
    let bits = (usize::BITS - (n / 256).leading_zeros()).clamp(8, 16);
    let shift = 64 - bits;
    let mut starts = vec![0u32; (1 << bits) + 1];
    for &h in hashes {
        starts[(h >> shift) as usize + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut fill = starts.clone();
    let mut items = vec![(0u64, 0u32); n];
    for (i, &h) in hashes.iter().enumerate() {
        let slot = &mut fill[(h >> shift) as usize];
        items[*slot as usize] = (h, i as u32);
        *slot += 1;
    }
    let mut ids = vec![Token(0); n];
    let mut next = 0u32;
    for w in starts.windows(2) {
        let bucket = &mut items[w[0] as usize..w[1] as usize];
        bucket.sort_unstable_by_key(|&(h, _)| h);
        let mut prev = None;
        for &(h, i) in bucket.iter() {
            if prev != Some(h) {
                prev = Some(h);
                next += 1;
            }
            ids[i as usize] = Token(next - 1);
        }
    }
    // Renumber in order of first occurrence: the algorithms index per-token
    // tables by id, and nearby lines then hit nearby entries.
    let mut remap = vec![u32::MAX; next as usize];
    let mut fresh = 0u32;
    for t in &mut ids {
        let r = &mut remap[t.0 as usize];
        if *r == u32::MAX {
            *r = fresh;
            fresh += 1;
        }
        t.0 = *r;
    }
    (ids, next)
}

/// Exact interning by token content (the collision fallback).
fn exact_ids<'a>(tokens: impl Iterator<Item = &'a str>) -> (Vec<Token>, u32) {
    let mut map: HashMap<&str, u32> = HashMap::new();
    let mut next = 0u32;
    let ids = tokens
        .map(|t| {
            Token(*map.entry(t).or_insert_with(|| {
                next += 1;
                next - 1
            }))
        })
        .collect();
    (ids, next)
}

/// Diffs two slices of arbitrary hashable items with exact equality (used for
/// arrays of structured values and three-way merges of token sequences).
pub(crate) fn diff_ids(a: &[u32], b: &[u32], algorithm: Algorithm) -> Vec<Edit> {
    let n = a.iter().chain(b).copied().max().map_or(0, |m| m + 1);
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let max_suffix = a.len().min(b.len()) - prefix;
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take(max_suffix)
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut edits = if ma.is_empty() && mb.is_empty() {
        Vec::new()
    } else if ma.is_empty() || mb.is_empty() {
        vec![Edit {
            old: 0..ma.len(),
            new: 0..mb.len(),
        }]
    } else {
        let ta: Vec<Token> = ma.iter().map(|&t| Token(t)).collect();
        let tb: Vec<Token> = mb.iter().map(|&t| Token(t)).collect();
        run(&ta, &tb, n, algorithm, None)
    };
    for e in &mut edits {
        e.old = shift_range(&e.old, prefix);
        e.new = shift_range(&e.new, prefix);
    }
    edits
}

fn shift_range(r: &Range<usize>, by: usize) -> Range<usize> {
    r.start + by..r.end + by
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitioned_ids_match_map_ids() {
        let hashes: Vec<u64> = (0..100_000u64)
            .map(|i| (i % 7919).wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let (ids, n) = dense_ids(&hashes);
        let ids: Vec<u32> = ids.into_iter().map(|t| t.0).collect();
        assert_eq!(n, 7919);
        for (i, h) in hashes.iter().enumerate() {
            let j = (i as u64 % 7919) as usize;
            assert_eq!(hashes[j], *h);
            assert_eq!(ids[i], ids[j]);
        }
        assert_ne!(ids[0], ids[1]);
    }

    #[test]
    fn verify_rejects_bad_equal_pairs() {
        let a = ["x\n", "y\n"];
        let b = ["x\n", "z\n"];
        assert!(!verify(&a, &b, &[]));
        assert!(verify(
            &a,
            &b,
            &[Edit {
                old: 1..2,
                new: 1..2
            }]
        ));
        assert!(!verify(
            &a,
            &b,
            &[Edit {
                old: 1..2,
                new: 0..2
            }]
        ));
    }
}
