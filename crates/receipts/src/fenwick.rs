//! A growable Fenwick (binary indexed) tree of counts over sequence numbers:
//! how many active members have a watermark at each position, so "how many
//! are at or above `m`" is one prefix sum, `O(log n)`, whatever the group's size.

/// Counts at positions `0..len()`, with prefix sums in `O(log n)`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fenwick {
    /// 1-based tree: `tree[i]` holds the sum of positions `(i - lowbit(i), i]`
    /// in 1-based terms (position `p` is index `p + 1`); `tree[0]` is unused.
    tree: Vec<u32>,
}

#[inline]
fn lowbit(i: usize) -> usize {
    i & i.wrapping_neg()
}

impl Fenwick {
    /// Number of positions.
    pub(crate) fn len(&self) -> usize {
        self.tree.len().saturating_sub(1)
    }

    /// A tree over the given counts, built in `O(n)`.
    pub(crate) fn from_counts(counts: Vec<u32>) -> Self {
        let mut tree = Vec::with_capacity(counts.len() + 1);
        tree.push(0);
        tree.extend(counts);
        let n = tree.len() - 1;
        for i in 1..=n {
            let j = i + lowbit(i);
            if j <= n {
                tree[j] = tree[j].wrapping_add(tree[i]);
            }
        }
        Fenwick { tree }
    }

    /// Makes positions `0..n` exist (new ones count zero). `O(k log n)` for
    /// `k` new positions.
    pub(crate) fn grow_to(&mut self, n: usize) {
        if self.tree.is_empty() {
            self.tree.push(0);
        }
        let old = self.len();
        if n <= old {
            return;
        }
        self.tree.reserve(n - old);
        for i in old + 1..=n {
            // The new position itself counts 0: the node sums the positions
            // (i - lowbit(i), i - 1] that already exist.
            let from = i - lowbit(i);
            let v = self.prefix1(i - 1) - self.prefix1(from);
            self.tree.push(v);
        }
    }

    /// Sum of 1-based indices `1..=i`.
    #[inline]
    fn prefix1(&self, mut i: usize) -> u32 {
        let mut s = 0u32;
        while i > 0 {
            s = s.wrapping_add(self.tree[i]);
            i -= lowbit(i);
        }
        s
    }

    /// Adds 1 at position `p` (grown to fit).
    pub(crate) fn inc(&mut self, p: u64) {
        self.add(p, 1);
    }

    /// Removes 1 at position `p`, which must hold at least one.
    pub(crate) fn dec(&mut self, p: u64) {
        self.add(p, u32::MAX); // wrapping -1
    }

    fn add(&mut self, p: u64, delta: u32) {
        let p = p as usize;
        if p >= self.len() {
            self.grow_to(p + 1);
        }
        let mut i = p + 1;
        while i < self.tree.len() {
            self.tree[i] = self.tree[i].wrapping_add(delta);
            i += lowbit(i);
        }
    }

    /// How many counted at positions `0..p` (below `p`).
    #[inline]
    pub(crate) fn below(&self, p: u64) -> u32 {
        let i = (p as usize).min(self.len());
        self.prefix1(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_a_plain_array_while_growing() {
        let mut f = Fenwick::default();
        let mut plain = vec![0u32; 0];
        let mut x = 7u64;
        for step in 0..3000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let p = x % (step / 3 + 5);
            if plain.len() <= p as usize {
                plain.resize(p as usize + 1, 0);
            }
            if x.is_multiple_of(5) && plain[p as usize] > 0 {
                f.dec(p);
                plain[p as usize] -= 1;
            } else {
                f.inc(p);
                plain[p as usize] += 1;
            }
            if step.is_multiple_of(7) {
                f.grow_to(plain.len() + (x % 9) as usize);
            }
            let q = x % (plain.len() as u64 + 3);
            let want: u32 = plain.iter().take(q as usize).sum();
            assert_eq!(f.below(q), want, "step {step} q {q}");
            if step.is_multiple_of(101) {
                let built = Fenwick::from_counts(plain.clone());
                assert_eq!(built.below(q), want, "built, step {step}");
            }
        }
    }
}
