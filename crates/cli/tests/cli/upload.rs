//! `blocksmith upload ...`, run as a user would. Goes in
//! `crates/cli/tests/cli/upload.rs` with `mod upload;` in `tests/cli/main.rs`,
//! whose `run` and `json` helpers it uses.

use super::{json, run};

fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

#[test]
fn upload_put_is_resumable_and_readable_with_store_get() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("movie.bin");
    let data = noise(300_000, 1);
    std::fs::write(&file, &data).unwrap();
    let f = file.to_str().unwrap();
    // Interrupted after 2 parts of 64 KiB.
    let o = run(
        d,
        &[
            "upload",
            "put",
            f,
            "--part-kib",
            "64",
            "--stop-after",
            "2",
            "--json",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let v = json(&o);
    assert_eq!(v["complete"], false);
    assert_eq!(v["resumed"], false);
    assert_eq!(v["bytes_sent"], 131_072);
    let id = v["id"].as_str().unwrap().to_string();
    let o = run(d, &["upload", "status", &id, "--json"]);
    let st = json(&o);
    assert_eq!(st["offset"], 131_072);
    assert_eq!(st["missing"][0][0], 131_072);
    assert_eq!(st["state"], "open");
    // The second run continues and says so.
    let o = run(d, &["upload", "put", f, "--part-kib", "64"]);
    assert!(o.status.success(), "{o:?}");
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("resumed upload"), "{text}");
    assert!(text.contains("131072 bytes were already stored"), "{text}");
    assert!(text.contains("stored as movie.bin"), "{text}");
    let o = run(d, &["store", "get", "movie.bin"]);
    assert!(o.status.success());
    assert_eq!(o.stdout, data);
    // A third run has nothing to send.
    let v = json(&run(d, &["upload", "put", f, "--json"]));
    assert_eq!(
        (v["bytes_sent"].as_u64(), v["complete"].as_bool()),
        (Some(0), Some(true))
    );
    // Other content under the same name is refused (exit 4) unless --overwrite.
    std::fs::write(&file, noise(1000, 2)).unwrap();
    let o = run(d, &["upload", "put", f]);
    assert_eq!(o.status.code(), Some(4), "{o:?}");
    let o = run(d, &["upload", "put", f, "--overwrite"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        run(d, &["store", "get", "movie.bin"]).stdout,
        noise(1000, 2)
    );
    // Unknown session: exit 3.
    assert_eq!(run(d, &["upload", "status", "nope"]).status.code(), Some(3));
}

#[test]
fn upload_chunks_reports_boundaries_and_dedup() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = noise(1 << 20, 3);
    let mut b = a.clone();
    b.splice(500_000..500_000, b"inserted".iter().copied());
    std::fs::write(d.join("a.bin"), &a).unwrap();
    std::fs::write(d.join("b.bin"), &b).unwrap();
    let o = run(
        d,
        &[
            "upload",
            "chunks",
            d.join("b.bin").to_str().unwrap(),
            "--against",
            d.join("a.bin").to_str().unwrap(),
            "--min-kib",
            "4",
            "--avg-kib",
            "16",
            "--max-kib",
            "64",
            "--list",
            "--json",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let v = json(&o);
    let n = v["chunks"].as_u64().unwrap();
    assert!((30..150).contains(&n), "{n}");
    let rows = v["boundaries"].as_array().unwrap();
    assert_eq!(rows.len() as u64, n);
    let total: u64 = rows.iter().map(|r| r["len"].as_u64().unwrap()).sum();
    assert_eq!(total, b.len() as u64);
    assert!(v["against"]["shared_fraction"].as_f64().unwrap() > 0.9);
    assert!(v["against"]["dedup_ratio"].as_f64().unwrap() > 1.8);
    let o = run(d, &["upload", "chunks", "/no/such/file"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn upload_put_reads_stdin_in_parts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text: String = (0..20_000).fold(String::new(), |mut s, i| {
        use std::fmt::Write as _;
        let _ = writeln!(s, "line {i}");
        s
    });
    // `-` needs a name.
    let o = super::run_stdin(d, &["upload", "put", "-"], "x");
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let o = super::run_stdin(
        d,
        &[
            "upload",
            "put",
            "-",
            "--name",
            "lines.txt",
            "--part-kib",
            "64",
            "--json",
        ],
        &text,
    );
    assert!(o.status.success(), "{o:?}");
    let v = json(&o);
    assert_eq!(v["complete"], true);
    assert_eq!(v["size"].as_u64(), Some(text.len() as u64));
    assert_eq!(
        v["parts_sent"].as_u64(),
        Some(text.len().div_ceil(65_536) as u64)
    );
    let o = run(d, &["store", "get", "lines.txt"]);
    assert_eq!(o.stdout, text.as_bytes());
}

/// A path that is not a regular file (`/dev/stdin`, a FIFO, `<(cmd)`) can be
/// read only once. `upload put` read it whole before; it must not read it
/// a second time after hashing it (the second open finds the pipe drained,
/// and cannot seek it).
#[cfg(target_os = "linux")]
#[test]
fn upload_put_of_a_path_that_is_a_pipe_reads_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = "piped through a path\n".repeat(5_000);
    let o = super::run_stdin(
        d,
        &[
            "upload",
            "put",
            "/dev/stdin",
            "--name",
            "piped.txt",
            "--json",
        ],
        &text,
    );
    assert!(o.status.success(), "{o:?}");
    let o = run(d, &["store", "get", "piped.txt"]);
    assert_eq!(o.stdout, text.as_bytes());
}
