//! GCN's Kafka topics (SVOM's `gcn.notices.svom.voevent.*`, the classic
//! `gcn.classic.voevent.*`): each partition is read from the offset Ferros
//! stored with the last notice it took from it, in the same transaction as
//! that notice, so that a crash neither loses a notice nor takes one twice.
//! No consumer group: the read positions live in Ferros's database. A
//! partition never read starts at its end (or its beginning, as configured),
//! and that position is stored at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferros_config::KafkaStart;
use ferros_db::IntakePosition;
use ferros_domain::LogLevel;
use ferros_limits::MAX_KAFKA_FETCH_BYTES;
use rskafka::BackoffConfig;
use rskafka::client::partition::{OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};

use super::{ALERTS, AlertDesk};
use crate::AgentError;
use crate::runtime::{Agent, AgentContext};

/// The longest a fetch waits for a record (a long poll: it returns at the first).
const FETCH_WAIT_MS: i32 = 1_000;
/// How often the topics' partitions are listed again (a topic created later).
const RELIST: Duration = Duration::from_secs(60);
/// Time a call to the broker may take, retries included.
const CALL_LIMIT: Duration = Duration::from_secs(10);
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(60);

/// What the intake positions of Kafka are stored under.
pub const KAFKA: &str = "kafka";

struct Partition {
    client: Arc<PartitionClient>,
    topic: String,
    partition: i32,
    next: i64,
}

/// The Kafka intake: one agent for all the topics of its brokers.
pub struct KafkaIntake {
    desk: AlertDesk,
    brokers: Vec<String>,
    topics: Vec<String>,
    start: KafkaStart,
    client: Option<Client>,
    partitions: Vec<Partition>,
    listed_at: Option<chrono::DateTime<chrono::Utc>>,
    retry_at: Option<chrono::DateTime<chrono::Utc>>,
    delay: Duration,
    failing: Option<String>,
    /// Topics found missing, each said once.
    missing: Vec<String>,
}

impl std::fmt::Debug for KafkaIntake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaIntake").field("brokers", &self.brokers).finish_non_exhaustive()
    }
}

impl KafkaIntake {
    pub fn new(desk: AlertDesk, brokers: Vec<String>, topics: Vec<String>, start: KafkaStart) -> Self {
        Self {
            desk,
            brokers,
            topics,
            start,
            client: None,
            partitions: Vec::new(),
            listed_at: None,
            retry_at: None,
            delay: FIRST_RETRY,
            failing: None,
            missing: Vec::new(),
        }
    }

    async fn fail(&mut self, ctx: &AgentContext, why: String) {
        self.client = None;
        self.partitions.clear();
        self.listed_at = None;
        let now = ctx.clock.now();
        self.retry_at = Some(now + chrono::TimeDelta::from_std(self.delay).unwrap_or_default());
        if self.failing.as_deref() != Some(why.as_str()) {
            let m = format!(
                "Kafka {}: {why}; trying again in {} s",
                self.brokers.join(","),
                self.delay.as_secs()
            );
            ctx.log(ALERTS, LogLevel::Warn, m).await;
            self.failing = Some(why);
        }
        self.delay = (self.delay * 2).min(LAST_RETRY);
    }

    /// Connects, lists the topics' partitions and finds where to read each.
    async fn discover(&mut self, ctx: &AgentContext) -> Result<(), String> {
        if self.client.is_none() {
            let backoff = BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(2),
                base: 2.0,
                deadline: Some(CALL_LIMIT),
            };
            let client = ClientBuilder::new(self.brokers.clone())
                .client_id("ferros")
                .backoff_config(backoff)
                .max_message_size(MAX_KAFKA_FETCH_BYTES as usize * 2)
                .build()
                .await
                .map_err(|e| format!("cannot connect: {e}"))?;
            self.client = Some(client);
        }
        let Some(client) = &self.client else { return Ok(()) };
        let listed = client.list_topics().await.map_err(|e| format!("cannot list the topics: {e}"))?;
        let stored: BTreeMap<(String, i32), i64> = ctx
            .db
            .intake_positions(KAFKA)
            .await
            .map_err(|e| format!("database: {e}"))?
            .into_iter()
            .map(|p| ((p.topic, p.partition), p.next_offset))
            .collect();
        for topic in &self.topics {
            let Some(t) = listed.iter().find(|t| &t.name == topic) else {
                if !self.missing.contains(topic) {
                    ctx.log(ALERTS, LogLevel::Info, format!("Kafka topic {topic} does not exist (yet)"))
                        .await;
                    self.missing.push(topic.clone());
                }
                continue;
            };
            self.missing.retain(|m| m != topic);
            for &p in &t.partitions {
                if self.partitions.iter().any(|x| &x.topic == topic && x.partition == p) {
                    continue;
                }
                let pc = client
                    .partition_client(topic.clone(), p, UnknownTopicHandling::Retry)
                    .await
                    .map_err(|e| format!("{topic}[{p}]: {e}"))?;
                let next = match stored.get(&(topic.clone(), p)) {
                    Some(n) => *n,
                    None => {
                        let at = match self.start {
                            KafkaStart::Latest => OffsetAt::Latest,
                            KafkaStart::Earliest => OffsetAt::Earliest,
                        };
                        let n = pc.get_offset(at).await.map_err(|e| format!("{topic}[{p}]: {e}"))?;
                        // Stored at once: a notice produced before the first
                        // one is taken is not lost by a restart.
                        let pos = IntakePosition {
                            source: KAFKA.into(),
                            topic: topic.clone(),
                            partition: p,
                            next_offset: n,
                        };
                        ctx.db.set_intake_position(&pos).await.map_err(|e| format!("database: {e}"))?;
                        n
                    }
                };
                self.partitions.push(Partition {
                    client: Arc::new(pc),
                    topic: topic.clone(),
                    partition: p,
                    next,
                });
            }
        }
        self.listed_at = Some(ctx.clock.now());
        Ok(())
    }
}

/// What one fetch brought: the partition's index and its records, or the error.
type Fetched = (usize, Result<(Vec<rskafka::record::RecordAndOffset>, i64), rskafka::client::error::Error>);

#[async_trait]
impl Agent for KafkaIntake {
    fn name(&self) -> &str {
        "alerts-kafka"
    }

    fn period(&self) -> Duration {
        // Each step waits on the broker (a long poll) itself.
        Duration::from_millis(1)
    }

    async fn step(&mut self, ctx: &AgentContext) -> Result<(), AgentError> {
        let now = ctx.clock.now();
        if let Some(at) = self.retry_at
            && now < at
        {
            ctx.clock.sleep((at - now).to_std().unwrap_or_default().min(Duration::from_secs(5))).await;
            return Ok(());
        }
        let stale = self.listed_at.is_none_or(|t| (now - t).to_std().unwrap_or_default() >= RELIST);
        if (self.client.is_none() || stale)
            && let Err(why) = self.discover(ctx).await
        {
            self.fail(ctx, why).await;
            return Ok(());
        }
        if self.partitions.is_empty() {
            ctx.clock.sleep(Duration::from_secs(5)).await;
            return Ok(());
        }
        let mut fetches = tokio::task::JoinSet::new();
        for (i, p) in self.partitions.iter().enumerate() {
            let (client, next) = (p.client.clone(), p.next);
            fetches.spawn(async move {
                let r = client.fetch_records(next, 1..MAX_KAFKA_FETCH_BYTES, FETCH_WAIT_MS).await;
                (i, r) as Fetched
            });
        }
        while let Some(done) = fetches.join_next().await {
            let (i, result) = done.map_err(|source| AgentError::Task { what: "a Kafka fetch", source })?;
            let (topic, partition) = (self.partitions[i].topic.clone(), self.partitions[i].partition);
            let records = match result {
                Ok((records, _high)) => records,
                Err(rskafka::client::error::Error::ServerError {
                    protocol_error: rskafka::client::error::ProtocolError::OffsetOutOfRange,
                    ..
                }) => {
                    let earliest = self.partitions[i].client.get_offset(OffsetAt::Earliest).await;
                    let Ok(n) = earliest else {
                        self.fail(ctx, format!("{topic}[{partition}]: offset out of range")).await;
                        return Ok(());
                    };
                    let m = format!(
                        "Kafka {topic}[{partition}]: offset {} is gone from the broker; reading from {n}",
                        self.partitions[i].next
                    );
                    ctx.log(ALERTS, LogLevel::Warn, m).await;
                    self.partitions[i].next = n;
                    continue;
                }
                Err(e) => {
                    fetches.abort_all();
                    self.fail(ctx, format!("{topic}[{partition}]: {e}")).await;
                    return Ok(());
                }
            };
            for r in records {
                if r.offset < self.partitions[i].next {
                    continue;
                }
                let received = ctx.clock.now();
                let position = IntakePosition {
                    source: KAFKA.into(),
                    topic: topic.clone(),
                    partition,
                    next_offset: r.offset + 1,
                };
                let source = format!("kafka:{topic}[{partition}]@{}", r.offset);
                let value = r.record.value.unwrap_or_default();
                self.desk.receive(ctx, &value, &source, received, Some(position)).await?;
                self.partitions[i].next = r.offset + 1;
            }
        }
        self.failing = None;
        self.delay = FIRST_RETRY;
        Ok(())
    }
}
