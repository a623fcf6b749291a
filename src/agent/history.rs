//! History and rollback (destination side). Owned by the issue-4 work.

use std::sync::Arc;

use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::agent::state::AgentState;
use crate::proto::v1;

pub async fn history(
    _state: &Arc<AgentState>,
    _request: Request<v1::HistoryRequest>,
) -> Result<Response<v1::HistoryReply>, Status> {
    Err(Status::unimplemented("history is not available in this agent version"))
}

pub async fn rollback(
    _state: &Arc<AgentState>,
    _request: Request<v1::RollbackRequest>,
) -> Result<Response<ReceiverStream<Result<v1::ApplyEvent, Status>>>, Status> {
    Err(Status::unimplemented("rollback is not available in this agent version"))
}
