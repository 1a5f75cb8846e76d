//! Progress bars for long work, drawn on stderr.
//!
//! A bar is drawn only when stderr is a terminal and neither `--json` nor
//! `--quiet` was given; otherwise the functions return a hidden bar, which
//! counts like a visible one and prints nothing. So a pipe, a log file or a
//! test never sees a bar, and callers never branch on whether one is shown.

use crate::output::Output;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

fn target(out: &Output) -> ProgressDrawTarget {
    if out.progress() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// A bar over `len` bytes (size, rate and time left).
pub(crate) fn bytes(len: u64, out: &Output) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), target(out));
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

/// A spinner over a stream of unknown length (bytes so far and rate).
pub(crate) fn stream(out: &Output) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, target(out));
    bar.set_style(
        ProgressStyle::with_template("{spinner} {bytes} {binary_bytes_per_sec} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar
}

/// A bar over `n` things, named by `label` ("pages", "codes", "rows").
pub(crate) fn count(n: u64, label: &str, out: &Output) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(n), target(out));
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(label.to_string());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::ColorArg;

    #[test]
    fn hidden_under_json_or_quiet_and_still_counting() {
        for (json, quiet) in [(true, false), (false, true), (true, true)] {
            let out = Output::new(json, quiet, ColorArg::Never);
            let b = bytes(100, &out);
            assert!(b.is_hidden());
            b.inc(40);
            assert_eq!(b.position(), 40);
            assert!(stream(&out).is_hidden());
            let c = count(3, "pages", &out);
            assert!(c.is_hidden());
            assert_eq!(c.length(), Some(3));
            assert_eq!(c.message(), "pages");
        }
    }
}
