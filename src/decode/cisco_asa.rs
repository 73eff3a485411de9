//! Adapter: TODO (being written).

use super::{DecodeContext, RejectReason, Rejection};
use crate::event::LoginEvent;

/// Does the record look like this format?
pub fn sniff(_text: &str) -> bool {
    false
}

/// Decode one record of this format.
pub fn decode(_text: &str, _ctx: &DecodeContext) -> Result<LoginEvent, Rejection> {
    Err(Rejection::new(
        RejectReason::Malformed,
        "adapter not written yet",
    ))
}
