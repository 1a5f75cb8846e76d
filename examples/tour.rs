//! The Blocksmith tour: every crate end to end on the embedded default store.
//!
//! ```text
//! cargo run --release --example tour
//! ```
//!
//! Data goes to `target/tour/` (wiped at the start), so the run is repeatable.

use blocksmith::store::{Key, PutOptions, RedbStore, StoreExt, record::Record};
use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

#[path = "autocorrect.rs"]
mod autocorrect;
#[path = "chat_receipts.rs"]
mod chat_receipts;
#[path = "codes_campaign.rs"]
mod codes_campaign;
#[path = "config_drift.rs"]
mod config_drift;
#[path = "dispute_desk.rs"]
mod dispute_desk;
#[path = "feed_timeline.rs"]
mod feed_timeline;
#[path = "geo_dispatch.rs"]
mod geo_dispatch;
#[path = "ocr_document.rs"]
mod ocr_document;
#[path = "sketch_analytics.rs"]
mod sketch_analytics;
#[path = "tenant_onboarding.rs"]
mod tenant_onboarding;
#[path = "tsz_metrics.rs"]
mod tsz_metrics;
#[path = "upload_resume.rs"]
mod upload_resume;
#[path = "vault_manager.rs"]
mod vault_manager;

#[derive(serde::Serialize, serde::Deserialize)]
struct Visits {
    count: u64,
    last_path: String,
}

impl Record for Visits {
    const KIND: &'static str = "tour.visits";
    const VERSION: u32 = 1;
}

fn tour_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tour");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create target/tour");
    dir
}

fn store_section(store: &RedbStore) -> Result<String, Box<dyn Error>> {
    let s = store.blocking();
    let t = Instant::now();
    for i in 0..1000 {
        s.put(&Key::new(format!("tour/blobs/{i:04}"))?, vec![i as u8; 512])?;
    }
    let listed = s.list_all("tour/blobs/")?.len();
    let key = Key::new("tour/config")?;
    s.put_opts(&key, "v1", PutOptions::create())?;
    let lost_create = s.put_opts(&key, "again", PutOptions::create()).is_err();
    let visits = Key::new("tour/visits")?;
    for path in ["/", "/docs", "/pricing"] {
        s.update_record::<Visits, _>(&visits, |v| {
            Ok(Some(Visits {
                count: v.map_or(0, |v| v.count) + 1,
                last_path: path.to_string(),
            }))
        })?;
    }
    let (v, _) = s.get_record::<Visits>(&visits)?.expect("written above");
    Ok(format!(
        "store   1000 blobs written and {listed} listed in {:?}; create-only refused a second writer: {lost_create}; \
         typed record updated 3x by compare-and-swap: count={} last={}",
        t.elapsed(),
        v.count,
        v.last_path
    ))
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = tour_dir();
    let store = std::sync::Arc::new(RedbStore::open(dir.join("blocksmith.redb"))?);
    println!("Blocksmith tour (embedded store at {})", dir.display());
    println!("{}", store_section(&store)?);
    println!("{}", tsz_metrics::demo(&store)?);
    println!("{}", vault_manager::demo(&store)?);
    println!("{}", config_drift::demo(&store)?);
    println!("{}", geo_dispatch::demo(&store)?);
    println!("{}", feed_timeline::demo(&store)?);
    println!("{}", upload_resume::demo(&store)?);
    println!("{}", sketch_analytics::demo(&store)?);
    println!("{}", autocorrect::demo(&store)?);
    println!("{}", codes_campaign::demo(&store)?);
    println!("{}", ocr_document::demo(&store)?);
    println!("{}", tenant_onboarding::demo(store.clone())?);
    println!("{}", dispute_desk::demo(store.clone())?);
    println!("{}", chat_receipts::demo(store.clone())?);
    println!("tour complete");
    Ok(())
}
