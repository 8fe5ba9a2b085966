//! Redis pub/sub transport (fred): one client publishes (pipelined), one subscriber
//! client receives and re-subscribes by itself after a reconnect. Reconnects retry
//! forever with backoff; every reconnect and every lagged receive is reported as a gap,
//! after which every room resyncs (pub/sub drops what was published meanwhile).

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use fred::clients::SubscriberClient;
use fred::prelude::*;
use fred::types::config::ReconnectPolicy;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::{BusError, Incoming, Transport};

/// Incoming frames buffered before the receiving side counts as lagged.
const INCOMING_QUEUE: usize = 8192;
/// A command waiting longer than this (Redis down) fails, and rooms resync later.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

pub struct RedisTransport {
    publisher: Client,
    subscriber: SubscriberClient,
}

impl RedisTransport {
    pub async fn connect(url: &str) -> Result<(Self, mpsc::Receiver<Incoming>), BusError> {
        let config = Config::from_url(url)?;
        let mut builder = Builder::from_config(config);
        builder
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .with_performance_config(|p| p.default_command_timeout = COMMAND_TIMEOUT)
            .with_connection_config(|c| c.connection_timeout = COMMAND_TIMEOUT);
        let publisher = builder.build()?;
        let subscriber = builder.build_subscriber_client()?;
        publisher.init().await?;
        subscriber.init().await?;
        subscriber.manage_subscriptions();

        let (tx, rx) = mpsc::channel(INCOMING_QUEUE);
        let mut messages = subscriber.message_rx();
        let mut reconnects = subscriber.reconnect_rx();
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    m = messages.recv() => match m {
                        Ok(m) => match m.value.as_bytes() {
                            Some(b) => Incoming::Frame { channel: m.channel.to_string(), frame: Bytes::copy_from_slice(b) },
                            None => continue,
                        },
                        Err(RecvError::Lagged(n)) => {
                            warn!(missed = n, "redis receiver lagged");
                            Incoming::Gap
                        }
                        Err(RecvError::Closed) => return,
                    },
                    r = reconnects.recv() => match r {
                        Ok(server) => {
                            info!(%server, "redis reconnected");
                            Incoming::Gap
                        }
                        Err(RecvError::Lagged(_)) => Incoming::Gap,
                        Err(RecvError::Closed) => return,
                    },
                };
                if tx.send(event).await.is_err() {
                    return;
                }
            }
        });
        Ok((RedisTransport { publisher, subscriber }, rx))
    }
}

#[async_trait]
impl Transport for RedisTransport {
    fn distributed(&self) -> bool {
        true
    }

    async fn subscribe(&self, channel: &str) -> Result<(), BusError> {
        Ok(self.subscriber.subscribe(channel).await?)
    }

    async fn unsubscribe(&self, channel: &str) -> Result<(), BusError> {
        Ok(self.subscriber.unsubscribe(channel).await?)
    }

    async fn publish(&self, frames: Vec<(String, Bytes)>) -> Result<(), BusError> {
        let pipeline = self.publisher.pipeline();
        for (channel, frame) in frames {
            let _: () = pipeline.publish(channel, frame).await?;
        }
        let _: Vec<Value> = pipeline.all().await?;
        Ok(())
    }
}
