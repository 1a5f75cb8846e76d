//! The tus 1.0 resumable upload protocol over an [`Uploads`] engine, free of
//! any HTTP framework: turn your framework's request into a [`TusRequest`],
//! call [`TusServer::handle`], and write the [`TusResponse`] back.
//!
//! Extensions: `creation`, `creation-with-upload`, `creation-defer-length`,
//! `expiration`, `checksum` (sha1, sha256, crc32c), `termination`,
//! `concatenation`. An upload is finalized (verified and published) by the
//! `PATCH` that completes it; a partial upload is kept for concatenation.
//!
//! ```
//! use blocksmith_store::{MemoryStore, block_on};
//! use blocksmith_upload::tus::{TusRequest, TusServer};
//! use blocksmith_upload::{UploadOptions, Uploads};
//!
//! let store = MemoryStore::new();
//! let server = TusServer::new(Uploads::with_options(&store, UploadOptions::default().with_part_size(1, 1 << 20)));
//! block_on(async {
//!     let created = server.handle(TusRequest::new("POST", "/files/")
//!         .header("Tus-Resumable", "1.0.0").header("Upload-Length", "5")).await;
//!     assert_eq!(created.status, 201);
//!     let location = created.header("Location").unwrap().to_string();
//!     let patched = server.handle(TusRequest::new("PATCH", &location)
//!         .header("Tus-Resumable", "1.0.0").header("Upload-Offset", "0")
//!         .header("Content-Type", "application/offset+octet-stream").body("hello")).await;
//!     assert_eq!((patched.status, patched.header("Upload-Offset")), (204, Some("5")));
//! });
//! ```

use crate::checksum::{Algorithm, Checksum};
use crate::session::{CreateOptions, Session, SessionState, Uploads};
use crate::{Error, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use blocksmith_store::Store;
use bytes::Bytes;
use std::collections::BTreeMap;

/// The protocol version spoken.
pub const TUS_VERSION: &str = "1.0.0";
/// The extensions advertised in `Tus-Extension`.
pub const EXTENSIONS: &str = "creation,creation-with-upload,creation-defer-length,expiration,checksum,termination,concatenation";
const OFFSET_CT: &str = "application/offset+octet-stream";
/// The content type of every response body (error messages).
pub const TEXT_CT: &str = "text/plain; charset=utf-8";

/// An HTTP request, as far as tus cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TusRequest {
    /// The method (`POST`, `HEAD`, `PATCH`, `DELETE`, `OPTIONS`).
    pub method: String,
    /// The path (no query string).
    pub path: String,
    /// Headers; names compare case-insensitively.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

impl TusRequest {
    /// A request without headers or body.
    pub fn new(method: &str, path: &str) -> Self {
        TusRequest {
            method: method.to_string(),
            path: path.to_string(),
            ..Self::default()
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// The first header named `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TusResponse {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body (a short reason on errors).
    pub body: Bytes,
}

impl TusResponse {
    fn new(status: u16) -> Self {
        TusResponse {
            status,
            headers: vec![("Tus-Resumable".into(), TUS_VERSION.into())],
            body: Bytes::new(),
        }
    }

    fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// A response with a plain-text body.
    fn text(status: u16, body: impl Into<Bytes>) -> Self {
        let mut r = TusResponse::new(status).with("Content-Type", TEXT_CT);
        r.body = body.into();
        r
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `Upload-Concat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Concat {
    /// A partial upload.
    Partial,
    /// A final upload made of these upload URLs or paths.
    Final(Vec<String>),
}

/// The tus headers of a request, parsed and checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TusHeaders {
    /// `Tus-Resumable`.
    pub resumable: Option<String>,
    /// `Upload-Offset`.
    pub offset: Option<u64>,
    /// `Upload-Length`.
    pub length: Option<u64>,
    /// `Upload-Defer-Length: 1`.
    pub defer_length: bool,
    /// `Upload-Metadata`, decoded (values must be UTF-8).
    pub metadata: BTreeMap<String, String>,
    /// `Upload-Checksum`.
    pub checksum: Option<Checksum>,
    /// `Upload-Concat`.
    pub concat: Option<Concat>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// The method, after `X-HTTP-Method-Override`.
    pub method: String,
}

fn parse_u64(name: &'static str, v: &str) -> Result<u64> {
    let v = v.trim();
    if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(
            name,
            format!("not a non-negative integer: {v:?}"),
        ));
    }
    v.parse()
        .map_err(|_| Error::invalid(name, "integer out of range"))
}

/// Parses `Upload-Metadata`: comma-separated `key base64value` pairs (the
/// value may be absent). Keys are unique, non-empty, without spaces or commas.
///
/// # Errors
/// [`Error::Invalid`] for an empty key or one with a space, comma or control
/// character, a value that is not base64 or not UTF-8, or a key given twice.
pub fn parse_metadata(v: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for pair in v.split(',') {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let (k, val) = match pair.split_once(' ') {
            Some((k, val)) => (k, val.trim()),
            None => (pair, ""),
        };
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
            return Err(Error::invalid("Upload-Metadata", format!("bad key {k:?}")));
        }
        let bytes = STANDARD
            .decode(val)
            .map_err(|e| Error::invalid("Upload-Metadata", format!("{k}: {e}")))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::invalid("Upload-Metadata", format!("{k}: value is not UTF-8")))?;
        if out.insert(k.to_string(), text).is_some() {
            return Err(Error::invalid(
                "Upload-Metadata",
                format!("duplicate key {k:?}"),
            ));
        }
    }
    Ok(out)
}

/// Encodes `Upload-Metadata`.
pub fn encode_metadata(m: &BTreeMap<String, String>) -> String {
    m.iter()
        .map(|(k, v)| {
            if v.is_empty() {
                k.clone()
            } else {
                format!("{k} {}", STANDARD.encode(v))
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl TusHeaders {
    /// Parses and checks every tus header of `req`.
    ///
    /// # Errors
    /// [`Error::Invalid`] if `Upload-Offset` or `Upload-Length` is not a
    /// non-negative integer that fits a `u64`, `Upload-Defer-Length` is not `1`,
    /// `Upload-Metadata` does not parse (see [`parse_metadata`]),
    /// `Upload-Checksum` does not (see [`Checksum::parse_tus`]), or
    /// `Upload-Concat` is neither `partial` nor `final;` with upload URLs.
    pub fn parse(req: &TusRequest) -> Result<Self> {
        let method = req
            .get("X-HTTP-Method-Override")
            .unwrap_or(&req.method)
            .trim()
            .to_ascii_uppercase();
        let mut h = TusHeaders {
            method,
            resumable: req.get("Tus-Resumable").map(|s| s.trim().to_string()),
            content_type: req.get("Content-Type").map(|s| s.trim().to_string()),
            ..Self::default()
        };
        if let Some(v) = req.get("Upload-Offset") {
            h.offset = Some(parse_u64("Upload-Offset", v)?);
        }
        if let Some(v) = req.get("Upload-Length") {
            h.length = Some(parse_u64("Upload-Length", v)?);
        }
        if let Some(v) = req.get("Upload-Defer-Length") {
            if v.trim() != "1" {
                return Err(Error::invalid("Upload-Defer-Length", "must be 1"));
            }
            h.defer_length = true;
        }
        if let Some(v) = req.get("Upload-Metadata") {
            h.metadata = parse_metadata(v)?;
        }
        if let Some(v) = req.get("Upload-Checksum") {
            h.checksum = Some(Checksum::parse_tus(v)?);
        }
        if let Some(v) = req.get("Upload-Concat") {
            let v = v.trim();
            h.concat = Some(if v == "partial" {
                Concat::Partial
            } else if let Some(list) = v.strip_prefix("final;") {
                let urls: Vec<String> = list.split_whitespace().map(str::to_string).collect();
                if urls.is_empty() {
                    return Err(Error::invalid("Upload-Concat", "final without uploads"));
                }
                Concat::Final(urls)
            } else {
                return Err(Error::invalid(
                    "Upload-Concat",
                    "expected partial or final;<urls>",
                ));
            });
        }
        Ok(h)
    }
}

/// Formats Unix seconds as an HTTP date (RFC 9110 IMF-fixdate).
pub fn http_date(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{}, {d:02} {} {y} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(m - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Serving options.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TusOptions {
    /// Where the endpoint is mounted; upload URLs are `<base_path><id>`.
    pub base_path: String,
    /// Publish finished uploads under `<prefix>/<id>` instead of the engine's default.
    pub target_prefix: Option<String>,
}

impl Default for TusOptions {
    fn default() -> Self {
        TusOptions {
            base_path: "/files/".into(),
            target_prefix: None,
        }
    }
}

impl TusOptions {
    /// Sets the mount path (a trailing `/` is added if missing).
    #[must_use]
    pub fn with_base_path(mut self, path: impl Into<String>) -> Self {
        let mut p: String = path.into();
        if !p.ends_with('/') {
            p.push('/');
        }
        self.base_path = p;
        self
    }

    /// Publishes under `<prefix>/<id>`.
    #[must_use]
    pub fn with_target_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.target_prefix = Some(prefix.into());
        self
    }
}

/// The HTTP status for an engine error.
pub fn status_for(e: &Error) -> u16 {
    match e {
        Error::NotFound { .. } | Error::InvalidId { .. } => 404,
        Error::Gone { .. } => 410,
        Error::OffsetMismatch { .. } | Error::Overlap { .. } | Error::CorruptPart { .. } => 409,
        Error::ChecksumMismatch { .. } => 460,
        Error::TooLarge { .. }
        | Error::ImageTooLarge { .. }
        | Error::OutOfBounds { .. }
        | Error::TooManyParts { .. }
        | Error::ImageBytesTooLarge { .. } => 413,
        Error::ContentTypeNotAllowed { .. } | Error::CannotStrip { .. } => 415,
        Error::InvalidState { .. } | Error::TargetExists { .. } => 403,
        Error::Store(_) | Error::Random(_) => 500,
        _ => 400,
    }
}

/// The body of an error response: a fixed message for each kind of error,
/// with numbers and the server's own words but nothing the client sent (no
/// header values, ids, keys or metadata), so a response can never be made to
/// carry markup or to reflect a request back. The full error (its
/// `Display`) is for the host's logs.
pub fn error_text(e: &Error) -> String {
    match e {
        Error::NotFound { .. } | Error::InvalidId { .. } => "no such upload".into(),
        Error::Gone { reason, .. } => format!("upload is gone: {reason}"),
        Error::OffsetMismatch { expected, .. } => {
            format!("Upload-Offset does not match the upload's offset {expected}")
        }
        Error::Overlap { .. } => "bytes overlap data already received".into(),
        Error::CorruptPart { range } => format!(
            "stored bytes {}..{} were corrupt and discarded: send them again",
            range.start, range.end
        ),
        Error::ChecksumMismatch { what, algorithm } => {
            format!("{what} checksum mismatch ({algorithm})")
        }
        Error::TooLarge { what, size, limit } => {
            format!("{what} of {size} bytes exceeds the limit of {limit}")
        }
        Error::ImageTooLarge {
            width,
            height,
            limit,
        } => format!("image of {width}x{height} pixels exceeds the limit of {limit} pixels"),
        Error::ImageBytesTooLarge { size, limit } => {
            format!("image of {size} bytes exceeds the limit of {limit} bytes for images")
        }
        Error::CannotStrip { format } => {
            format!("metadata cannot be stripped from {format} images")
        }
        Error::PartTooSmall { size, min, .. } => {
            format!("part of {size} bytes is below the minimum part size {min}")
        }
        Error::TooManyParts { limit } => format!("upload would have more than {limit} parts"),
        Error::OutOfBounds { range, length } => format!(
            "bytes {}..{} do not fit an upload of {length} bytes",
            range.start, range.end
        ),
        Error::Incomplete { missing, .. } => format!("upload incomplete: {missing} bytes missing"),
        Error::LengthUnknown => "upload length not declared yet".into(),
        Error::LengthConflict { declared, .. } => {
            format!("upload length already declared as {declared}")
        }
        Error::ContentTypeNotAllowed { .. } => "content type not allowed".into(),
        Error::InvalidImage { format, reason } => format!("invalid {format} image: {reason}"),
        Error::TargetExists { .. } => "the upload's target already exists".into(),
        Error::InvalidState { reason, .. } => format!("not possible for this upload: {reason}"),
        Error::Invalid { what, .. } => format!("invalid {what}"),
        Error::Store(_) | Error::Random(_) | Error::Source(_) => "internal error".into(),
        _ => "request refused".into(),
    }
}

/// A tus endpoint over an [`Uploads`] engine.
#[derive(Debug, Clone)]
pub struct TusServer<S> {
    uploads: Uploads<S>,
    config: TusOptions,
}

impl<S: Store> TusServer<S> {
    /// A server mounted at `/files/`.
    pub fn new(uploads: Uploads<S>) -> Self {
        Self::with_config(uploads, TusOptions::default())
    }

    /// A server with `config`.
    pub fn with_config(uploads: Uploads<S>, config: TusOptions) -> Self {
        TusServer { uploads, config }
    }

    /// The engine.
    pub fn uploads(&self) -> &Uploads<S> {
        &self.uploads
    }

    /// Handles one request. Never panics on hostile input: every failure is a
    /// response with a status code and a short fixed reason ([`error_text`],
    /// `text/plain; charset=utf-8`) that never repeats what the client sent.
    pub async fn handle(&self, req: TusRequest) -> TusResponse {
        match self.dispatch(&req).await {
            Ok(r) => r,
            Err(e) => TusResponse::text(status_for(&e), error_text(&e)),
        }
    }

    fn id_of<'a>(&self, path: &'a str) -> Option<&'a str> {
        let rest = path.strip_prefix(self.config.base_path.as_str())?;
        let id = rest.split(['?', '#']).next().unwrap_or(rest);
        (!id.is_empty() && !id.contains('/')).then_some(id)
    }

    /// The id in an upload URL (absolute URL or path) for concatenation.
    fn id_in_url<'a>(&self, url: &'a str) -> Option<&'a str> {
        let path = match url.find("://") {
            Some(i) => url[i + 3..].find('/').map_or("", |j| &url[i + 3 + j..]),
            None => url,
        };
        self.id_of(path)
    }

    fn head_headers(&self, mut r: TusResponse, s: &Session, offset: u64) -> TusResponse {
        r = r.with("Upload-Offset", offset.to_string());
        r = match s.length {
            Some(l) => r.with("Upload-Length", l.to_string()),
            None => r.with("Upload-Defer-Length", "1"),
        };
        if !s.metadata.is_empty() {
            r = r.with("Upload-Metadata", encode_metadata(&s.metadata));
        }
        if s.partial {
            r = r.with("Upload-Concat", "partial");
        } else if !s.concat.is_empty() {
            let urls: Vec<String> = s
                .concat
                .iter()
                .map(|id| format!("{}{id}", self.config.base_path))
                .collect();
            r = r.with("Upload-Concat", format!("final;{}", urls.join(" ")));
        }
        if s.state == SessionState::Open {
            r = r.with("Upload-Expires", http_date(s.expires_at));
        }
        r.with("Cache-Control", "no-store")
    }

    async fn dispatch(&self, req: &TusRequest) -> Result<TusResponse> {
        let h = TusHeaders::parse(req)?;
        if h.method == "OPTIONS" {
            let algos: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
            return Ok(TusResponse::new(204)
                .with("Tus-Version", TUS_VERSION)
                .with("Tus-Extension", EXTENSIONS)
                .with("Tus-Max-Size", self.uploads.options().max_size.to_string())
                .with("Tus-Checksum-Algorithm", algos.join(",")));
        }
        if h.resumable.as_deref() != Some(TUS_VERSION) {
            return Ok(
                TusResponse::text(412, "unsupported or missing Tus-Resumable")
                    .with("Tus-Version", TUS_VERSION),
            );
        }
        let base = self.config.base_path.as_str();
        let at_base = req.path == base || req.path == base.trim_end_matches('/');
        match (h.method.as_str(), at_base) {
            ("POST", true) => self.create(req, h).await,
            (m @ ("HEAD" | "PATCH" | "DELETE" | "GET"), false) => {
                let Some(id) = self.id_of(&req.path) else {
                    return Ok(TusResponse::text(404, "no such upload"));
                };
                match m {
                    "HEAD" | "GET" => self.head(id).await,
                    "PATCH" => self.patch(id, req, h).await,
                    _ => {
                        self.uploads.abort(id).await?;
                        Ok(TusResponse::new(204))
                    }
                }
            }
            (_, true) | ("POST", false) => Ok(TusResponse::text(405, "method not allowed here")),
            _ => Ok(TusResponse::text(404, "not a tus endpoint")),
        }
    }

    fn create_options(h: &TusHeaders) -> CreateOptions {
        let mut o = CreateOptions::default();
        o.metadata.clone_from(&h.metadata);
        o
    }

    fn with_target(&self, mut o: CreateOptions, id: &str) -> CreateOptions {
        if let Some(p) = &self.config.target_prefix {
            o.target = Some(format!("{p}/{id}"));
        }
        o.id = Some(id.to_string());
        o
    }

    async fn create(&self, req: &TusRequest, h: TusHeaders) -> Result<TusResponse> {
        let id = {
            let mut b = [0u8; 16];
            getrandom::fill(&mut b).map_err(|e| Error::Random(e.to_string()))?;
            crate::checksum::hex(&b)
        };
        let options = self.with_target(Self::create_options(&h), &id);
        if let Some(Concat::Final(urls)) = &h.concat {
            if h.length.is_some() || h.defer_length {
                return Err(Error::invalid(
                    "Upload-Concat",
                    "a final upload has no length",
                ));
            }
            let ids = urls
                .iter()
                .map(|u| {
                    self.id_in_url(u).map(str::to_string).ok_or_else(|| {
                        Error::invalid("Upload-Concat", format!("not an upload URL: {u}"))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let (session, _) = self.uploads.concat(&ids, options).await?;
            return Ok(TusResponse::new(201).with(
                "Location",
                format!("{}{}", self.config.base_path, session.id),
            ));
        }
        let mut options = options;
        options.partial = h.concat == Some(Concat::Partial);
        options.length = match (h.length, h.defer_length) {
            (Some(l), false) => Some(l),
            (None, true) => None,
            _ => {
                return Err(Error::invalid(
                    "Upload-Length",
                    "exactly one of Upload-Length and Upload-Defer-Length is required",
                ));
            }
        };
        let opened = self.uploads.create(options).await?;
        let s = opened.session;
        let mut r = TusResponse::new(201)
            .with("Location", format!("{}{}", self.config.base_path, s.id))
            .with("Upload-Expires", http_date(s.expires_at));
        if !req.body.is_empty() {
            // creation-with-upload
            if h.content_type.as_deref() != Some(OFFSET_CT) {
                return Err(Error::invalid(
                    "Content-Type",
                    format!("must be {OFFSET_CT}"),
                ));
            }
            let offset = self
                .write(&s.id, 0, req.body.clone(), h.checksum.as_ref(), &s)
                .await?;
            r = r.with("Upload-Offset", offset.to_string());
        }
        Ok(r)
    }

    async fn head(&self, id: &str) -> Result<TusResponse> {
        let st = self.uploads.status(id).await?;
        match st.session.state {
            SessionState::Aborted => Err(Error::Gone {
                id: id.into(),
                reason: "terminated",
            }),
            SessionState::Open if st.session.expires_at <= self.uploads.now() => Err(Error::Gone {
                id: id.into(),
                reason: "expired",
            }),
            _ => Ok(self.head_headers(TusResponse::new(200), &st.session, st.offset)),
        }
    }

    /// Stores a part and finalizes when it completes a non-partial upload;
    /// returns the new offset.
    async fn write(
        &self,
        id: &str,
        offset: u64,
        body: Bytes,
        checksum: Option<&Checksum>,
        session: &Session,
    ) -> Result<u64> {
        let st = self.uploads.put_part(id, offset, body, checksum).await?;
        if st.is_complete() && !session.partial {
            self.uploads.finalize(id).await?;
        }
        Ok(st.offset)
    }

    async fn patch(&self, id: &str, req: &TusRequest, h: TusHeaders) -> Result<TusResponse> {
        if h.content_type.as_deref() != Some(OFFSET_CT) {
            return Ok(TusResponse::text(
                415,
                format!("Content-Type must be {OFFSET_CT}"),
            ));
        }
        let offset = h
            .offset
            .ok_or_else(|| Error::invalid("Upload-Offset", "missing"))?;
        let mut st = self.uploads.status(id).await?;
        if st.session.state == SessionState::Aborted {
            return Err(Error::Gone {
                id: id.into(),
                reason: "terminated",
            });
        }
        if st.session.state == SessionState::Open && st.session.expires_at <= self.uploads.now() {
            return Err(Error::Gone {
                id: id.into(),
                reason: "expired",
            });
        }
        if !st.session.concat.is_empty() {
            return Err(Error::InvalidState {
                id: id.into(),
                reason: "a final upload cannot be patched",
            });
        }
        if let Some(l) = h.length {
            st.session = self.uploads.declare_length(id, l).await?;
        }
        if offset != st.offset {
            return Err(Error::OffsetMismatch {
                expected: st.offset,
                got: offset,
            });
        }
        let new_offset = self
            .write(
                id,
                offset,
                req.body.clone(),
                h.checksum.as_ref(),
                &st.session,
            )
            .await?;
        Ok(TusResponse::new(204)
            .with("Upload-Offset", new_offset.to_string())
            .with("Upload-Expires", http_date(st.session.expires_at)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn http_dates() {
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(1_709_164_800), "Thu, 29 Feb 2024 00:00:00 GMT");
    }

    proptest! {
        #[test]
        fn metadata_roundtrip(m in proptest::collection::btree_map("[a-zA-Z0-9_.-]{1,12}", ".{0,24}", 0..6)) {
            prop_assert_eq!(parse_metadata(&encode_metadata(&m)).unwrap(), m);
        }

        #[test]
        fn hostile_headers_never_panic(name in "[A-Za-z-]{1,20}", value in ".{0,40}") {
            let req = TusRequest::new("PATCH", "/files/x").header(&name, &value);
            let _ = TusHeaders::parse(&req);
            for n in ["Upload-Offset", "Upload-Length", "Upload-Metadata", "Upload-Checksum", "Upload-Concat", "Upload-Defer-Length"] {
                let _ = TusHeaders::parse(&TusRequest::new("POST", "/").header(n, &value));
            }
        }
    }
}
