//! Watching the tree for changes (source side). Owned by the issue-4 work.

use std::sync::Arc;

use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::agent::state::AgentState;
use crate::proto::v1;

pub async fn watch(
    _state: &Arc<AgentState>,
    _request: Request<v1::WatchRequest>,
) -> Result<Response<ReceiverStream<Result<v1::TreeChanged, Status>>>, Status> {
    Err(Status::unimplemented("watch is not available in this agent version"))
}
