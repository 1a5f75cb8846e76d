//! Persisted records (graph, user state, post block, log entry, stamp, log
//! body): a record or a typed error, never a panic; whatever decodes
//! re-encodes to the same record.
#![no_main]

use blocksmith_feed::persist::{
    GraphRecord, LogEntry, PostBlock, UserStateRecord, decode_records, encode_records, stamp,
    unstamp,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 6 {
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
        2 => {
            if let Ok(r) = PostBlock::decode(rest) {
                assert_eq!(PostBlock::decode(&r.encode()).expect("own record"), r);
            }
        }
        3 => {
            if let Ok(e) = LogEntry::decode(rest) {
                assert_eq!(LogEntry::decode(&e.encode()).expect("own entry"), e);
            }
        }
        4 => {
            if let Ok((generation, record)) = unstamp(rest) {
                assert_eq!(
                    unstamp(&stamp(generation, record)).expect("own stamp"),
                    (generation, record)
                );
            }
        }
        _ => {
            if let Ok(records) = decode_records(rest) {
                assert_eq!(
                    decode_records(&encode_records(&records)).expect("own records"),
                    records
                );
            }
        }
    }
});
