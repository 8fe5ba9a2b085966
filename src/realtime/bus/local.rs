//! The single-node transport (no `TANDEM_REDIS_URL`): there are no peers, so nothing
//! crosses it. Rooms do not subscribe to it (the bus hands them a subscription with no
//! queue), so `subscribe` and `unsubscribe` are not called.

use async_trait::async_trait;
use bytes::Bytes;

use super::{BusError, Transport};

pub struct Local;

#[async_trait]
impl Transport for Local {
    fn distributed(&self) -> bool {
        false
    }

    async fn subscribe(&self, _channel: &str) -> Result<(), BusError> {
        Ok(())
    }

    async fn unsubscribe(&self, _channel: &str) -> Result<(), BusError> {
        Ok(())
    }

    async fn publish(&self, _frames: Vec<(String, Bytes)>) -> Result<(), BusError> {
        Ok(())
    }
}
