//! Refusals in gRPC statuses: the server adapter puts typed refusals into the status
//! details (`grpc-status-details-bin`, laid out as the standard google.rpc.Status with
//! one `confsync.v1.RefusalDetails`), and the client takes them out, so that no one ever
//! tells a busy destination from a held one by reading a message.

use confsync_engine::refusal::{Refusal, RefusalKind};
use confsync_proto::v1;
use prost::Message;

use crate::convert::plan::{refusal_from_proto, refusal_to_proto};

const DETAILS_TYPE: &str = "type.googleapis.com/confsync.v1.RefusalDetails";

/// The status for `refusals`: RESOURCE_EXHAUSTED for a busy destination (the gRPC code for
/// "try later"), FAILED_PRECONDITION for the rest, with the refusals in the details.
pub(crate) fn refused(refusals: &[Refusal]) -> tonic::Status {
    let code = if refusals.iter().all(|r| r.kind == RefusalKind::Busy) {
        tonic::Code::ResourceExhausted
    } else {
        tonic::Code::FailedPrecondition
    };
    let message = confsync_engine::refusal::joined(refusals);
    let details = v1::RefusalDetails { refusals: refusals.iter().map(refusal_to_proto).collect() };
    let status = v1::RpcStatus {
        code: code as i32,
        message: message.clone(),
        details: vec![v1::AnyDetail {
            type_url: DETAILS_TYPE.into(),
            value: details.encode_to_vec(),
        }],
    };
    tonic::Status::with_details(code, message, status.encode_to_vec().into())
}

/// The typed refusals a status carries, if it carries any.
pub(crate) fn refusals(status: &tonic::Status) -> Option<Vec<Refusal>> {
    if status.details().is_empty() {
        return None;
    }
    let outer = v1::RpcStatus::decode(status.details()).ok()?;
    let detail = outer.details.into_iter().find(|d| d.type_url == DETAILS_TYPE)?;
    let details = v1::RefusalDetails::decode(detail.value.as_slice()).ok()?;
    let refusals: Vec<Refusal> =
        details.refusals.into_iter().filter_map(|r| refusal_from_proto(r).ok()).collect();
    (!refusals.is_empty()).then_some(refusals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_survive_a_status() {
        let held = vec![
            Refusal::new(RefusalKind::Hold, "on hold"),
            Refusal::new(RefusalKind::MaxDelete, "too many"),
        ];
        let status = refused(&held);
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
        assert_eq!(refusals(&status), Some(held));
        let busy = refused(&[Refusal::new(RefusalKind::Busy, "busy")]);
        assert_eq!(busy.code(), tonic::Code::ResourceExhausted);
        assert_eq!(refusals(&tonic::Status::failed_precondition("plain")), None);
    }
}
