//! Persisted records (graph, user state, post block): a record or a typed
//! error, never a panic; whatever decodes re-encodes to the same record.
#![no_main]

use blocksmith_feed::persist::{GraphRecord, PostBlock, UserStateRecord};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            if let Ok(r) = GraphRecord::decode(rest) {
                assert_eq!(GraphRecord::decode(&r.encode()).expect("own record"), r);
            }
        }
        1 => {
            if let Ok(r) = UserStateRecord::decode(rest) {
                assert_eq!(UserStateRecord::decode(&r.encode()).expect("own record"), r);
            }
        }
        _ => {
            if let Ok(r) = PostBlock::decode(rest) {
                assert_eq!(PostBlock::decode(&r.encode()).expect("own record"), r);
            }
        }
    }
});
