//! Shared helpers: test options, a recording store and a failing store.

use blocksmith_store::{
    Capabilities, Error as StoreError, GetOptions, GetResult, Key, ListOptions, ListPage,
    MemoryStore, ObjectMeta, PutOptions, PutResult, Store,
};
use blocksmith_vault::{Credentials, VaultOptions};
use bytes::Bytes;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

pub(crate) fn opts() -> VaultOptions {
    VaultOptions::insecure_fast()
}

pub(crate) fn creds() -> Credentials {
    Credentials::new("correct horse battery staple")
}

pub(crate) fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Everything a store was sent: keys of every call, and every value put.
#[derive(Default)]
pub(crate) struct Log {
    pub(crate) keys: Vec<String>,
    pub(crate) values: Vec<(String, Bytes)>,
}

/// A store that records every request it receives, then delegates.
#[derive(Clone, Default)]
pub(crate) struct RecordingStore {
    pub(crate) inner: Arc<MemoryStore>,
    pub(crate) log: Arc<Mutex<Log>>,
}

impl RecordingStore {
    fn note(&self, key: &str) {
        self.log.lock().unwrap().keys.push(key.to_string());
    }
}

impl Store for RecordingStore {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn get(&self, key: &Key, options: GetOptions) -> blocksmith_store::Result<GetResult> {
        self.note(key.as_str());
        self.inner.get(key, options).await
    }
    async fn head(&self, key: &Key) -> blocksmith_store::Result<ObjectMeta> {
        self.note(key.as_str());
        self.inner.head(key).await
    }
    async fn put(
        &self,
        key: &Key,
        value: Bytes,
        options: PutOptions,
    ) -> blocksmith_store::Result<PutResult> {
        self.note(key.as_str());
        self.log
            .lock()
            .unwrap()
            .values
            .push((key.as_str().to_string(), value.clone()));
        self.inner.put(key, value, options).await
    }
    async fn delete(&self, key: &Key) -> blocksmith_store::Result<()> {
        self.note(key.as_str());
        self.inner.delete(key).await
    }
    async fn list(&self, options: ListOptions) -> blocksmith_store::Result<ListPage> {
        self.note(&options.prefix);
        if let Some(a) = &options.start_after {
            self.note(a.as_str());
        }
        self.inner.list(options).await
    }
}

/// A store over shared data that fails every write once its budget of
/// successful writes (puts and deletes) is spent: a crash at that point.
#[derive(Clone)]
pub(crate) struct FailingStore {
    pub(crate) inner: Arc<MemoryStore>,
    pub(crate) budget: Arc<AtomicI64>,
}

impl FailingStore {
    pub(crate) fn new(inner: Arc<MemoryStore>, writes: i64) -> Self {
        FailingStore {
            inner,
            budget: Arc::new(AtomicI64::new(writes)),
        }
    }

    fn spend(&self) -> blocksmith_store::Result<()> {
        if self.budget.fetch_sub(1, Ordering::SeqCst) <= 0 {
            return Err(StoreError::Backend {
                backend: "failing",
                temporary: true,
                source: "injected crash".into(),
            });
        }
        Ok(())
    }
}

impl Store for FailingStore {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn get(&self, key: &Key, options: GetOptions) -> blocksmith_store::Result<GetResult> {
        self.inner.get(key, options).await
    }
    async fn head(&self, key: &Key) -> blocksmith_store::Result<ObjectMeta> {
        self.inner.head(key).await
    }
    async fn put(
        &self,
        key: &Key,
        value: Bytes,
        options: PutOptions,
    ) -> blocksmith_store::Result<PutResult> {
        self.spend()?;
        self.inner.put(key, value, options).await
    }
    async fn delete(&self, key: &Key) -> blocksmith_store::Result<()> {
        self.spend()?;
        self.inner.delete(key).await
    }
    async fn list(&self, options: ListOptions) -> blocksmith_store::Result<ListPage> {
        self.inner.list(options).await
    }
}
