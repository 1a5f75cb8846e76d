//! A resumable uploader: sends a buffer or a file through an [`Uploads`]
//! engine part by part, asking the engine what is missing first, so a second
//! run after an interruption sends only the rest.
//!
//! A file is read one part at a time into a buffer that is reused whenever
//! the store has let go of the previous part ([`Uploader::upload_reader`]):
//! memory stays bounded by a part, whatever the file's size.

use crate::checksum::Algorithm;
use crate::session::{CreateOptions, Published, SessionState, Uploads};
use crate::{Error, Result};
use blocksmith_store::Store;
use bytes::Bytes;
use memmap2::MmapMut;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::sync::Arc;

/// Where an upload's bytes come from, read a part at a time.
pub trait Source {
    /// Total length in bytes.
    fn len(&self) -> u64;
    /// Whether the source is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The bytes of `range` (within `0..len()`).
    ///
    /// # Errors
    /// [`Error::Source`] when reading fails or the source is shorter than it said.
    fn read(&mut self, range: Range<u64>) -> Result<Bytes>;
}

impl Source for Bytes {
    fn len(&self) -> u64 {
        Bytes::len(self) as u64
    }
    /// A slice of the buffer: no copy.
    fn read(&mut self, range: Range<u64>) -> Result<Bytes> {
        Ok(self.slice(range.start as usize..range.end as usize))
    }
}

/// A file, or any `Read + Seek`, as an upload [`Source`]: each part is read
/// into one buffer, reused once the store has dropped the previous part (a
/// store that keeps parts in memory keeps their buffers; one that writes them
/// out lets the next read reuse the same memory).
///
/// Parts of [`MAPPED_MIN`] bytes or more are read into their own anonymous
/// memory map rather than the heap: it is page-aligned, so a store that
/// writes with direct I/O (`DirStore`) sends it to the disk without a copy,
/// and on Linux it asks for transparent huge pages before its first write,
/// so filling it costs one page fault per 2 MiB instead of one per 4 KiB
/// (on a VM that is most of the cost of holding a large upload in memory).
/// Smaller parts are read into the heap buffer's spare capacity, with no
/// zero-filling first.
#[derive(Debug)]
pub struct Reader<R> {
    inner: R,
    len: u64,
    at: u64,
    /// The last part handed out; its memory is taken back when it is the
    /// only handle left.
    last: Option<Bytes>,
    /// The last mapped part buffer; reused when no part refers to it.
    map: Option<Arc<MmapMut>>,
}

/// The least part size read into a memory map of its own (see [`Reader`]).
pub const MAPPED_MIN: u64 = 1 << 20;

/// A mapped part buffer shared with the parts sliced from it.
struct Mapped(Arc<MmapMut>);

impl AsRef<[u8]> for Mapped {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// A fresh anonymous map of `n` bytes, advised to use huge pages.
fn new_map(n: usize) -> std::io::Result<MmapMut> {
    let map = MmapMut::map_anon(n)?;
    // Advice only: without THP support the map keeps small pages.
    #[cfg(target_os = "linux")]
    let _ = map.advise(memmap2::Advice::HugePage);
    Ok(map)
}

/// Fills `buf` from `r`; returns how many bytes came before the end.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

impl<R: Read + Seek> Reader<R> {
    /// Wraps `inner`, taking its length from a seek to the end.
    ///
    /// # Errors
    /// [`Error::Source`] when seeking fails.
    pub fn new(mut inner: R) -> Result<Self> {
        let len = inner.seek(SeekFrom::End(0))?;
        inner.seek(SeekFrom::Start(0))?;
        Ok(Reader {
            inner,
            len,
            at: 0,
            last: None,
            map: None,
        })
    }

    /// The wrapped reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Reads `n` bytes into the mapped buffer (reused when free and large
    /// enough); `Ok(Err(got))` when the source ended after `got` bytes.
    fn read_mapped(&mut self, n: usize) -> Result<std::result::Result<Bytes, usize>> {
        let mut map = match self.map.take() {
            Some(m) if m.len() >= n && Arc::strong_count(&m) == 1 => m,
            _ => Arc::new(new_map(n)?),
        };
        let Some(buf) = Arc::get_mut(&mut map) else {
            return Err(Error::Source(std::io::Error::other(
                "part buffer still shared",
            )));
        };
        let got = fill(&mut self.inner, &mut buf[..n])?;
        let part = Bytes::from_owner(Mapped(Arc::clone(&map))).slice(..got);
        self.map = Some(map);
        Ok(if got == n { Ok(part) } else { Err(got) })
    }

    /// Reads `n` bytes into a heap buffer (the last one when free).
    fn read_heap(&mut self, n: u64) -> Result<std::result::Result<Bytes, usize>> {
        let mut buf: Vec<u8> = match self.last.take().map(Bytes::try_into_mut) {
            Some(Ok(mine)) => mine.into(),
            _ => Vec::new(),
        };
        buf.clear();
        buf.try_reserve_exact(usize::try_from(n).unwrap_or(usize::MAX))
            .map_err(|e| Error::Source(std::io::Error::other(e)))?;
        (&mut self.inner).take(n).read_to_end(&mut buf)?;
        if buf.len() as u64 != n {
            return Ok(Err(buf.len()));
        }
        let part = Bytes::from(buf);
        self.last = Some(part.clone());
        Ok(Ok(part))
    }
}

impl<R: Read + Seek> Source for Reader<R> {
    fn len(&self) -> u64 {
        self.len
    }

    fn read(&mut self, range: Range<u64>) -> Result<Bytes> {
        let short = |what: String| {
            Error::Source(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, what))
        };
        if range.end > self.len || range.start > range.end {
            return Err(short(format!("range {range:?} outside 0..{}", self.len)));
        }
        let n = range.end - range.start;
        if self.at != range.start {
            self.inner.seek(SeekFrom::Start(range.start))?;
        }
        self.at = u64::MAX; // re-seek next time unless the read completes
        let got = match usize::try_from(n) {
            Ok(big) if n >= MAPPED_MIN => self.read_mapped(big)?,
            _ => self.read_heap(n)?,
        };
        let part = got.map_err(|got| {
            short(format!(
                "source ended at {} inside part {range:?}",
                range.start + got as u64
            ))
        })?;
        self.at = range.end;
        Ok(part)
    }
}

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

/// Creates or resumes the session of `create`: the outcome of the run so
/// far, whether the session was published already (nothing to send), and
/// the part size of its multipart upload, if it has one.
async fn begin<S: Store>(
    uploads: &Uploads<S>,
    create: CreateOptions,
) -> Result<(Outcome, bool, Option<u64>)> {
    let opened = uploads.create(create).await?;
    let multipart = opened.session.multipart_part_size();
    let mut outcome = Outcome {
        id: opened.session.id,
        resumed: opened.resumed,
        already_received: 0,
        bytes_sent: 0,
        parts_sent: 0,
        published: None,
    };
    let published = match opened.session.state {
        SessionState::Finalized(p) => {
            outcome.already_received = p.size;
            outcome.published = Some(p);
            true
        }
        _ => false,
    };
    Ok((outcome, published, multipart))
}

/// Sends buffers in parts of a fixed size to an [`Uploads`] engine in the
/// same process.
///
/// The parts go to the engine in memory, so by default no per-part checksum
/// is sent: the engine computes the CRC-32C that names each part itself, and
/// a checksum computed from the same buffer it is checked against would only
/// cost a pass over the data. Set one with [`Uploader::with_checksum`] when
/// the engine sits behind a transport of yours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Uploader {
    /// Part size in bytes; a session with a multipart upload
    /// ([`crate::Session::multipart_part_size`]) is sent in parts of its own
    /// size instead, so that every part goes straight into the upload.
    pub part_size: u64,
    /// Checksum sent with every part (`None`: none).
    pub checksum: Option<Algorithm>,
}

impl Default for Uploader {
    /// 8 MiB parts, no per-part checksum (see [`Uploader`]).
    fn default() -> Self {
        Uploader {
            part_size: 8 * 1024 * 1024,
            checksum: None,
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
    ///
    /// # Errors
    /// As [`Uploads::create`], [`Uploads::status`], [`Uploads::put_part`] and
    /// [`Uploads::finalize`]; [`Error::Source`] if reading the source fails. A
    /// part that rotted in the store ([`Error::CorruptPart`] at finalize) is sent
    /// again, at most once per part, before it is an error.
    pub async fn upload<S: Store>(
        &self,
        uploads: &Uploads<S>,
        data: Bytes,
        create: CreateOptions,
    ) -> Result<Outcome> {
        self.upload_source_with(uploads, data, create, |_| true)
            .await
    }

    /// Uploads a file (or any `Read + Seek`) to completion, reading one part
    /// at a time: memory stays bounded by the part size for stores that
    /// write parts out.
    ///
    /// ```
    /// # use blocksmith_store::{MemoryStore, block_on};
    /// # use blocksmith_upload::{CreateOptions, UploadOptions, Uploads, client::Uploader};
    /// let store = MemoryStore::new();
    /// // Small parts for the example (the default minimum is S3's 5 MiB).
    /// let uploads = Uploads::with_options(&store, UploadOptions::default().with_part_size(1, 1 << 30));
    /// let file = std::io::Cursor::new(vec![7u8; 3000]);
    /// let out = block_on(Uploader::default().with_part_size(1000).upload_reader(
    ///     &uploads,
    ///     file,
    ///     CreateOptions::default().with_target("files/sevens"),
    /// ))?;
    /// assert_eq!((out.parts_sent, out.published.unwrap().size), (3, 3000));
    /// # Ok::<(), blocksmith_upload::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Source`] if seeking or reading `reader` fails; otherwise as
    /// [`Uploader::upload_source_with`].
    pub async fn upload_reader<S: Store, R: Read + Seek>(
        &self,
        uploads: &Uploads<S>,
        reader: R,
        create: CreateOptions,
    ) -> Result<Outcome> {
        self.upload_source_with(uploads, Reader::new(reader)?, create, |_| true)
            .await
    }

    /// Uploads everything `reader` yields, for a source that cannot seek or
    /// tell its length up front (a pipe, stdin): the session is created with
    /// a deferred length, parts are sent in order as they are read, and the
    /// length is declared when the stream ends. Memory stays bounded by one
    /// part. `progress` is called after each part (`total` is the bytes read
    /// so far); return `false` to stop there.
    ///
    /// Such an upload cannot continue in a later run, since the bytes read
    /// are gone: an interrupted one leaves its session to
    /// [`Uploads::abort`] or to expire.
    ///
    /// ```
    /// # use blocksmith_store::{MemoryStore, block_on};
    /// # use blocksmith_upload::{CreateOptions, UploadOptions, Uploads, client::Uploader};
    /// let store = MemoryStore::new();
    /// let uploads = Uploads::with_options(&store, UploadOptions::default().with_part_size(1, 1 << 30));
    /// let pipe = std::io::Read::chain(&b"hello, "[..], &b"streamed world"[..]);
    /// let out = block_on(Uploader::default().with_part_size(4).upload_stream(
    ///     &uploads,
    ///     pipe,
    ///     CreateOptions::deferred().with_target("files/hello"),
    ///     |_| true,
    /// ))?;
    /// assert_eq!((out.parts_sent, out.published.unwrap().size), (6, 21));
    /// # Ok::<(), blocksmith_upload::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Source`] when reading fails; [`Error::InvalidState`] when
    /// `create.id` names a session that already holds bytes (a stream cannot
    /// skip them); otherwise what [`Uploads::create`], [`Uploads::put_part`],
    /// [`Uploads::declare_length`] and [`Uploads::finalize`] return.
    pub async fn upload_stream<S: Store, R: Read>(
        &self,
        uploads: &Uploads<S>,
        mut reader: R,
        mut create: CreateOptions,
        mut progress: impl FnMut(&Progress) -> bool,
    ) -> Result<Outcome> {
        create.length = None;
        let (mut outcome, published, multipart) = begin(uploads, create).await?;
        if published {
            return Ok(outcome);
        }
        let id = outcome.id.clone();
        if uploads.status(&id).await?.received > 0 {
            return Err(Error::InvalidState {
                id,
                reason: "a streamed upload cannot continue a session that holds bytes",
            });
        }
        let size = multipart.unwrap_or(self.part_size);
        let cap = usize::try_from(size).unwrap_or(usize::MAX).min(64 << 20);
        let mut buf: Vec<u8> = Vec::new();
        let mut at = 0u64;
        loop {
            buf.clear();
            buf.try_reserve(cap)
                .map_err(|e| Error::Source(std::io::Error::other(e)))?;
            (&mut reader).take(size).read_to_end(&mut buf)?;
            let n = buf.len() as u64;
            if n == 0 {
                break;
            }
            let part = Bytes::from(std::mem::take(&mut buf));
            let sum = self.checksum.map(|a| a.digest(&part));
            uploads
                .put_part(&id, at, part.clone(), sum.as_ref())
                .await?;
            // The store let go of the part: read the next one into its memory.
            if let Ok(mine) = part.try_into_mut() {
                buf = mine.into();
            }
            at += n;
            outcome.bytes_sent += n;
            outcome.parts_sent += 1;
            let p = Progress {
                received: at,
                total: at,
                parts_sent: outcome.parts_sent,
            };
            if !progress(&p) {
                return Ok(outcome);
            }
            if n < size {
                break;
            }
        }
        uploads.declare_length(&id, at).await?;
        outcome.published = Some(uploads.finalize(&id).await?);
        Ok(outcome)
    }

    /// [`Uploader::upload_reader`] with a progress callback (see
    /// [`Uploader::upload_source_with`]): return `false` from it to stop
    /// after a part, as an interrupted client would.
    ///
    /// # Errors
    /// As [`Uploader::upload_source_with`].
    pub async fn upload_reader_with<S: Store, R: Read + Seek>(
        &self,
        uploads: &Uploads<S>,
        reader: R,
        create: CreateOptions,
        progress: impl FnMut(&Progress) -> bool,
    ) -> Result<Outcome> {
        self.upload_source_with(uploads, Reader::new(reader)?, create, progress)
            .await
    }

    /// Before resuming, reads back from `data` every range the session holds
    /// (in windows of a part) and compares its CRC-32C with the stored one.
    async fn check_received<S: Store, Src: Source>(
        &self,
        uploads: &Uploads<S>,
        id: &str,
        data: &mut Src,
        total: u64,
    ) -> Result<()> {
        for r in uploads.received(id).await? {
            let changed = || Error::SourceChanged {
                id: id.to_string(),
                range: r.range.clone(),
            };
            if r.range.end > total {
                return Err(changed());
            }
            let mut crc = 0u32;
            let mut at = r.range.start;
            while at < r.range.end {
                let end = r.range.end.min(at.saturating_add(self.part_size));
                crc = crc32c::crc32c_append(crc, &data.read(at..end)?);
                at = end;
            }
            if crc != r.crc32c {
                return Err(changed());
            }
        }
        Ok(())
    }

    /// [`Uploader::upload_source_with`] for a buffer.
    ///
    /// # Errors
    /// As [`Uploads::create`], [`Uploads::status`], [`Uploads::put_part`] and
    /// [`Uploads::finalize`]; [`Error::Source`] if reading the source fails. A
    /// part that rotted in the store ([`Error::CorruptPart`] at finalize) is sent
    /// again, at most once per part, before it is an error.
    pub async fn upload_with<S: Store>(
        &self,
        uploads: &Uploads<S>,
        data: Bytes,
        create: CreateOptions,
        progress: impl FnMut(&Progress) -> bool,
    ) -> Result<Outcome> {
        self.upload_source_with(uploads, data, create, progress)
            .await
    }

    /// Creates or resumes the session (`create.id` names it for resuming),
    /// sends the missing parts, calling `progress` after each (return `false`
    /// to stop there, as an interrupted client would), then finalizes.
    ///
    /// Parts are aligned to multiples of the part size, so runs with the same
    /// part size fill each other's gaps exactly. A resumed session's stored
    /// bytes are first checked against the source (their CRC-32C, reading
    /// them back from the source): a source that changed since the upload
    /// began is refused, never published half old and half new.
    ///
    /// # Errors
    /// As [`Uploads::create`], [`Uploads::status`], [`Uploads::put_part`] and
    /// [`Uploads::finalize`]; [`Error::Source`] if reading the source fails. A
    /// part that rotted in the store ([`Error::CorruptPart`] at finalize) is sent
    /// again, at most once per part, before it is an error.
    /// [`Error::SourceChanged`] if a resumed session holds bytes the source no
    /// longer has.
    pub async fn upload_source_with<S: Store, Src: Source>(
        &self,
        uploads: &Uploads<S>,
        mut data: Src,
        mut create: CreateOptions,
        mut progress: impl FnMut(&Progress) -> bool,
    ) -> Result<Outcome> {
        let total = data.len();
        create.length = Some(total);
        let (mut outcome, published, multipart) = begin(uploads, create).await?;
        if published {
            return Ok(outcome);
        }
        let id = outcome.id.clone();
        let status = uploads.status(&id).await?;
        if outcome.resumed && status.received > 0 {
            self.check_received(uploads, &id, &mut data, total).await?;
        }
        outcome.already_received = status.received;
        let mut received = status.received;
        let size = multipart.unwrap_or(self.part_size);
        for gap in status.missing {
            let mut at = gap.start;
            while at < gap.end {
                let end = ((at / size + 1) * size).min(gap.end);
                let part = data.read(at..end)?;
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
                    let part = data.read(range.clone())?;
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
