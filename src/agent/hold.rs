//! Holding a server: refuse every apply until released. Owned by the issue-4 work.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::agent::state::AgentState;
use crate::proto::v1;

pub async fn hold(
    _state: &Arc<AgentState>,
    _request: Request<v1::HoldRequest>,
) -> Result<Response<v1::HoldState>, Status> {
    Err(Status::unimplemented("hold is not available in this agent version"))
}

pub async fn release(
    _state: &Arc<AgentState>,
    _request: Request<v1::ReleaseRequest>,
) -> Result<Response<v1::HoldState>, Status> {
    Err(Status::unimplemented("release is not available in this agent version"))
}
