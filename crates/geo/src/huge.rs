//! Transparent huge pages for the index's dense per-entity arrays.
//!
//! The per-slot arrays (hot records, fence summaries, entity records) are
//! read at random by every upsert and query. On 4 KiB pages each such read
//! is usually a TLB miss as well as a cache miss, and under a hypervisor a
//! TLB miss is a two-level page walk. Advising `MADV_HUGEPAGE` on a buffer
//! *before* its pages are first written lets the kernel back it with 2 MiB
//! pages (where THP is in `madvise` or `always` mode), which measured about
//! 1.25x on geofence evaluation in `benches/geo.rs`.
//!
//! This is the crate's only `unsafe` code: one `madvise` call. It is sound
//! because `MADV_HUGEPAGE` changes only the page size the kernel uses for
//! the range, never the memory's contents, validity or protection, and the
//! range is rounded inward to whole 2 MiB pages inside the vector's own
//! allocation. A test below checks that contents survive growth and, where
//! THP is available, that the kernel recorded the advice.

/// Size of a transparent huge page on x86-64 and aarch64 (4 KiB base pages).
const HUGE: usize = 2 << 20;

/// Pushes `x`, first growing `v` (doubling) and advising the new buffer
/// when it is full, so the advice precedes the first write of new pages.
pub(crate) fn push<T>(v: &mut Vec<T>, x: T, huge: bool) {
    if huge && v.len() == v.capacity() {
        v.reserve(v.len().max(16));
        advise(v);
    }
    v.push(x);
}

/// Resizes `v` to `n` elements, advising a new buffer before filling it.
/// Growth stays amortized (the index grows this array one entity at a
/// time once fences exist).
pub(crate) fn resize<T: Clone>(v: &mut Vec<T>, n: usize, x: T, huge: bool) {
    if huge && n > v.capacity() {
        v.reserve(n - v.len());
        advise(v);
    }
    v.resize(n, x);
}

/// The whole huge pages inside `v`'s buffer, as `(start, len)`; `None` when
/// the buffer holds none.
fn inner_range<T>(v: &Vec<T>) -> Option<(usize, usize)> {
    let bytes = v.capacity().checked_mul(std::mem::size_of::<T>())?;
    let start = v.as_ptr() as usize;
    let lo = start.checked_next_multiple_of(HUGE)?;
    let hi = start.checked_add(bytes)? / HUGE * HUGE;
    (hi > lo).then(|| (lo, hi - lo))
}

/// Advises huge pages for the whole huge pages of `v`'s buffer; returns
/// whether the kernel accepted the advice (`false` without THP support).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn advise<T>(v: &Vec<T>) -> bool {
    let Some((lo, len)) = inner_range(v) else {
        return false;
    };
    // SAFETY: `MADV_HUGEPAGE` only changes which page size the kernel backs
    // the range with; it never alters the memory's contents, validity or
    // protection (unlike `MADV_DONTNEED` and friends, the reason `madvise`
    // is `unsafe`). `lo..lo + len` lies inside `v`'s allocation, which `v`
    // owns and keeps alive for the duration of the call.
    unsafe {
        rustix::mm::madvise(
            lo as *mut std::ffi::c_void,
            len,
            rustix::mm::Advice::LinuxHugepage,
        )
    }
    .is_ok()
}

#[cfg(not(target_os = "linux"))]
fn advise<T>(_: &Vec<T>) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the VMA holding `addr` carries the huge-page advice (`hg` in
    /// `/proc/self/smaps`).
    #[cfg(target_os = "linux")]
    fn advised(addr: usize) -> Option<bool> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let mut inside = false;
        for line in smaps.lines() {
            let first = line.split_whitespace().next().unwrap_or("");
            if let Some((a, b)) = first.split_once('-')
                && let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            {
                inside = (a..b).contains(&addr);
            } else if inside && let Some(flags) = line.strip_prefix("VmFlags:") {
                return Some(flags.split_whitespace().any(|f| f == "hg"));
            }
        }
        None
    }

    #[test]
    fn growth_keeps_contents_and_advises_large_buffers() {
        let mut v: Vec<u64> = Vec::new();
        for i in 0..3_000_000u64 {
            push(&mut v, i, true);
        }
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64));
        let mut w: Vec<u64> = vec![7; 10];
        resize(&mut w, 2_000_000, 9, true);
        assert_eq!(w.len(), 2_000_000);
        assert!(w[..10].iter().all(|&x| x == 7) && w[10..].iter().all(|&x| x == 9));
        let (lo, len) = inner_range(&v).expect("a 24 MB buffer holds whole huge pages");
        assert!(lo >= v.as_ptr() as usize && len >= HUGE);
        assert!(lo + len <= v.as_ptr() as usize + v.capacity() * 8);
        #[cfg(target_os = "linux")]
        {
            let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
                .unwrap_or_default();
            if advise(&v) && !thp.contains("[never]") {
                assert_eq!(advised(lo), Some(true), "the kernel recorded the advice");
            }
        }
        // Off: same contents, and no advice recorded.
        let mut u: Vec<u64> = Vec::new();
        for i in 0..3_000_000u64 {
            push(&mut u, i, false);
        }
        assert_eq!(u.iter().sum::<u64>(), 2_999_999 * 3_000_000 / 2);
        #[cfg(target_os = "linux")]
        if let Some((lo, _)) = inner_range(&u) {
            assert_ne!(advised(lo), Some(true), "no advice without the option");
        }
    }

    #[test]
    fn small_buffers_hold_no_huge_page() {
        let v: Vec<u8> = Vec::with_capacity(4096);
        assert_eq!(inner_range(&v), None);
        let e: Vec<u64> = Vec::new();
        assert_eq!(inner_range(&e), None);
    }
}
