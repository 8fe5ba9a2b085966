//! What every room shares: how long it keeps things, when it compacts and talks to its
//! peers, and what it admits. The room registry holds this group as it is (`room::RoomConfig`).

use std::time::Duration;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct RoomConfig {
    /// How long an empty room stays in memory before it is flushed and evicted.
    #[arg(long = "room-grace", value_name = "ROOM_GRACE", env = "TANDEM_ROOM_GRACE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub grace: Duration,
    /// Awareness states not renewed for this long are removed (clients renew every 15 s).
    #[arg(long, env = "TANDEM_AWARENESS_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub awareness_timeout: Duration,
    /// Update-log rows after which a live document is compacted into its snapshot.
    #[arg(long, env = "TANDEM_COMPACT_AFTER", default_value_t = 500)]
    pub compact_after: u64,
    /// How often a document being edited gets an automatic version (it gets one when its
    /// room closes after edits too).
    #[arg(long, env = "TANDEM_VERSION_INTERVAL", default_value = "10m", value_parser = humantime::parse_duration)]
    pub version_interval: Duration,
    /// How automatic versions are thinned: `AGE:EVERY` rules, e.g. `7d:1d,90d:1w` keeps one
    /// a day of those older than 7 days and one a week of those older than 90 days (named
    /// and restore versions are always kept); `none` keeps every one.
    #[arg(long, env = "TANDEM_VERSION_RETENTION", default_value = "7d:1d,90d:1w", value_parser = Retention::parse)]
    pub version_retention: Retention,
    /// How often a room exchanges state vectors with the other nodes holding it.
    #[arg(long, env = "TANDEM_ANTI_ENTROPY", default_value = "30s", value_parser = humantime::parse_duration)]
    pub anti_entropy: Duration,
    /// Connections one room accepts; later joins are closed with 1013. The last tenth is
    /// kept for connections that may write: read-only ones (a public view link) cannot
    /// lock editors out.
    #[arg(
        long = "max-connections-per-room",
        value_name = "MAX_CONNECTIONS_PER_ROOM",
        env = "TANDEM_MAX_CONNECTIONS_PER_ROOM",
        default_value_t = 2000
    )]
    pub max_connections: usize,
    /// Connections one signed-in user may hold in one room; more are closed with 1013.
    #[arg(
        long = "max-connections-per-user-per-room",
        value_name = "MAX_CONNECTIONS_PER_USER_PER_ROOM",
        env = "TANDEM_MAX_CONNECTIONS_PER_USER_PER_ROOM",
        default_value_t = 16
    )]
    pub max_connections_per_user: usize,
    /// Bytes of frames queued for one connection before it counts as too slow (closed with
    /// 1013): a queue under this takes one more frame of any size (a whole-document sync
    /// behind the small frames of a join), one at or over it takes nothing.
    #[arg(long = "send-queue-bytes", value_name = "SEND_QUEUE_BYTES", env = "TANDEM_SEND_QUEUE_BYTES", default_value_t = 8 * 1024 * 1024, value_parser = at_least_one)]
    pub max_queued_bytes: usize,
    /// Largest a document's Yjs state may grow, in bytes: an update that would take it
    /// past this is refused and its sender closed with 1009.
    #[arg(long = "max-document-state-size", value_name = "MAX_DOCUMENT_STATE_SIZE", env = "TANDEM_MAX_DOCUMENT_STATE_SIZE", default_value_t = 64 * 1024 * 1024)]
    pub max_state_bytes: usize,
}

/// How automatic versions are thinned: each rule keeps, of the versions older than `age`,
/// the newest one per `every` (the rule with the largest age that applies wins).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Retention {
    pub rules: Vec<(Duration, Duration)>,
}

impl Retention {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "none" {
            return Ok(Retention::default());
        }
        let mut rules = Vec::new();
        for rule in s.split(',') {
            let (age, every) = rule.split_once(':').ok_or_else(|| format!("`{rule}` is not AGE:EVERY"))?;
            let parse = |v: &str| humantime::parse_duration(v.trim()).map_err(|e| format!("`{v}`: {e}"));
            let (age, every) = (parse(age)?, parse(every)?);
            if every.is_zero() {
                return Err(format!("`{rule}`: EVERY must be more than zero"));
            }
            rules.push((age, every));
        }
        rules.sort();
        Ok(Retention { rules })
    }

    /// The period to thin to for a version this old, if any rule applies.
    pub fn period_for(&self, age: Duration) -> Option<Duration> {
        self.rules.iter().rev().find(|(min_age, _)| age >= *min_age).map(|(_, every)| *every)
    }

    /// The youngest age any rule thins.
    pub fn min_age(&self) -> Option<Duration> {
        self.rules.first().map(|(age, _)| *age)
    }
}

/// A byte limit that lets something through: zero would refuse every frame.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_rules_parse_and_pick_the_oldest_that_applies() {
        let r = Retention::parse("90d:1w, 7d:1d").unwrap();
        let day = Duration::from_secs(86_400);
        assert_eq!(r.min_age(), Some(7 * day));
        assert_eq!(r.period_for(day), None);
        assert_eq!(r.period_for(8 * day), Some(day));
        assert_eq!(r.period_for(100 * day), Some(7 * day));
        assert_eq!(Retention::parse("none").unwrap(), Retention::default());
        for bad in ["7d", "7d:0s", "x:1d", ""] {
            assert!(Retention::parse(bad).is_err(), "{bad}");
        }
    }
}
