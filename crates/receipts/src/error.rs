//! The crate's error type.

use crate::{Seq, UserId};

/// Everything that can go wrong in `blocksmith-receipts`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] blocksmith_store::Error),
    /// A conversation id that is empty, longer than 128 bytes, or holds a
    /// character other than ASCII letters, digits, `-`, `_`, `.` and `:`.
    #[error("invalid conversation id {0:?}")]
    InvalidConversation(String),
    /// No conversation of that id is known (nobody ever joined it).
    #[error("unknown conversation {0:?}")]
    UnknownConversation(String),
    /// The user is not an active member of the conversation.
    #[error("user {user} is not a member of conversation {conversation:?}")]
    NotMember {
        /// The conversation.
        conversation: String,
        /// The user.
        user: UserId,
    },
    /// No message with this sequence number exists (never posted, or deleted).
    #[error("no message {seq} in conversation {conversation:?}")]
    NoMessage {
        /// The conversation.
        conversation: String,
        /// The sequence number asked for.
        seq: Seq,
    },
    /// A sequence number too far ahead of the newest message
    /// ([`crate::ReceiptsOptions::max_ahead`]), or 0 for a message.
    #[error(
        "sequence number {seq} is out of range (newest message {last}, at most {max_ahead} ahead)"
    )]
    OutOfRange {
        /// The sequence number given.
        seq: Seq,
        /// The newest message of the conversation.
        last: Seq,
        /// How far ahead of it a sequence number may be.
        max_ahead: u64,
    },
    /// A conversation cannot take more members (2^31 - 2).
    #[error("conversation {0:?} cannot take more members")]
    TooManyMembers(String),
    /// A message was posted twice under one sequence number by different senders.
    #[error("message {seq} of conversation {conversation:?} was posted by another sender")]
    SeqTaken {
        /// The conversation.
        conversation: String,
        /// The sequence number.
        seq: Seq,
    },
    /// The list asked for is not shown to this viewer: the group is above
    /// [`crate::ReceiptsOptions::read_list_limit`], or the viewer hides their
    /// own read receipts under [`crate::ReceiptsOptions::reciprocal`].
    #[error("the {what} list is hidden: {reason}")]
    Hidden {
        /// Which list.
        what: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// A change-feed cursor that is not one this crate wrote.
    #[error("invalid change-feed cursor {0:?}")]
    InvalidCursor(String),
    /// Bytes that are not a conversation block, or a damaged one.
    #[error("corrupt conversation block: {reason} (at byte {offset})")]
    Corrupt {
        /// What is wrong.
        reason: &'static str,
        /// Where the decoder stopped.
        offset: usize,
    },
    /// A block written by a newer format version than this crate reads.
    #[error("conversation block format {found} is not supported (this crate reads {supported})")]
    UnsupportedFormat {
        /// The version in the block.
        found: u8,
        /// The version this crate reads and writes.
        supported: u8,
    },
    /// Other writers kept winning the compare-and-swap on a conversation block.
    #[error("conversation {0:?} is contended: the compare-and-swap kept failing")]
    Contended(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
