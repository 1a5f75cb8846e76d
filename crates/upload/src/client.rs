//! A resumable uploader: sends a buffer through an [`Uploads`] engine part by
//! part, asking the engine what is missing first, so a second run after an
//! interruption sends only the rest.

use crate::checksum::Algorithm;
use crate::session::{CreateOptions, Published, SessionState, Uploads};
use crate::{Error, Result};
use blocksmith_store::Store;
use bytes::Bytes;

/// Progress of a running upload, passed to the callback of [`Uploader::upload_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes the server holds.
    pub received: u64,
    /// Total bytes.
    pub total: u64,
    /// Parts sent in this run.
    pub parts_sent: usize,
}

/// What an upload run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The session id.
    pub id: String,
    /// The session existed: this run continued an earlier one.
    pub resumed: bool,
    /// Bytes the server already had when this run started.
    pub already_received: u64,
    /// Bytes sent in this run.
    pub bytes_sent: u64,
    /// Parts sent in this run.
    pub parts_sent: usize,
    /// The publication, unless the run was cancelled by the callback.
    pub published: Option<Published>,
}

/// Sends buffers in parts of a fixed size, each with a checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Uploader {
    /// Part size in bytes.
    pub part_size: u64,
    /// Checksum sent with every part (`None`: none).
    pub checksum: Option<Algorithm>,
}

impl Default for Uploader {
    /// 8 MiB parts with CRC-32C.
    fn default() -> Self {
        Uploader {
            part_size: 8 * 1024 * 1024,
            checksum: Some(Algorithm::Crc32c),
        }
    }
}

impl Uploader {
    /// Sets the part size.
    #[must_use]
    pub fn with_part_size(mut self, bytes: u64) -> Self {
        self.part_size = bytes.max(1);
        self
    }

    /// Sets the per-part checksum.
    #[must_use]
    pub fn with_checksum(mut self, algorithm: Option<Algorithm>) -> Self {
        self.checksum = algorithm;
        self
    }

    /// Uploads `data` to completion (see [`Uploader::upload_with`]).
    pub async fn upload<S: Store>(
        &self,
        uploads: &Uploads<S>,
        data: Bytes,
        create: CreateOptions,
    ) -> Result<Outcome> {
        self.upload_with(uploads, data, create, |_| true).await
    }

    /// Creates or resumes the session (`create.id` names it for resuming),
    /// sends the missing parts, calling `progress` after each (return `false`
    /// to stop there, as an interrupted client would), then finalizes.
    ///
    /// Parts are aligned to multiples of the part size, so runs with the same
    /// part size fill each other's gaps exactly.
    pub async fn upload_with<S: Store>(
        &self,
        uploads: &Uploads<S>,
        data: Bytes,
        mut create: CreateOptions,
        mut progress: impl FnMut(&Progress) -> bool,
    ) -> Result<Outcome> {
        let total = data.len() as u64;
        create.length = Some(total);
        let opened = uploads.create(create).await?;
        let id = opened.session.id.clone();
        let mut outcome = Outcome {
            id: id.clone(),
            resumed: opened.resumed,
            already_received: 0,
            bytes_sent: 0,
            parts_sent: 0,
            published: None,
        };
        if let SessionState::Finalized(p) = opened.session.state {
            outcome.already_received = p.size;
            outcome.published = Some(p);
            return Ok(outcome);
        }
        let status = uploads.status(&id).await?;
        outcome.already_received = status.received;
        let mut received = status.received;
        let size = self.part_size;
        for gap in status.missing {
            let mut at = gap.start;
            while at < gap.end {
                let end = ((at / size + 1) * size).min(gap.end);
                let part = data.slice(at as usize..end as usize);
                let sum = self.checksum.map(|a| a.digest(&part));
                uploads.put_part(&id, at, part, sum.as_ref()).await?;
                outcome.bytes_sent += end - at;
                outcome.parts_sent += 1;
                received += end - at;
                at = end;
                let p = Progress {
                    received,
                    total,
                    parts_sent: outcome.parts_sent,
                };
                if !progress(&p) {
                    return Ok(outcome);
                }
            }
        }
        // A part that rotted in the store is discarded at finalize; send it
        // again (at most once per part).
        let mut retries = status.parts + outcome.parts_sent + 1;
        loop {
            match uploads.finalize(&id).await {
                Ok(p) => {
                    outcome.published = Some(p);
                    break;
                }
                Err(Error::CorruptPart { range }) if retries > 0 => {
                    retries -= 1;
                    let part = data.slice(range.start as usize..range.end as usize);
                    let sum = self.checksum.map(|a| a.digest(&part));
                    uploads
                        .put_part(&id, range.start, part, sum.as_ref())
                        .await?;
                    outcome.bytes_sent += range.end - range.start;
                    outcome.parts_sent += 1;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(outcome)
    }
}
