//! Where the process's own logs go and in what shape: stderr, filtered by `DRIFTWATCH_LOG`
//! (an `EnvFilter` directive, default `warn`), written as text or as JSON lines by
//! `DRIFTWATCH_LOG_FORMAT` (`text`, the default, or `json`).
//!
//! Text carries ANSI colours only when stderr is a terminal and `NO_COLOR` is unset, so a
//! log collector never stores escape codes. JSON lines (one object per event: `timestamp`,
//! `level`, `target`, `fields` with `message`, and the span list) are what Loki, Elastic and
//! Splunk ingest without a parser.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The environment variable that picks the shape.
pub const FORMAT_VAR: &str = "DRIFTWATCH_LOG_FORMAT";
/// The environment variable that picks what is logged.
pub const FILTER_VAR: &str = "DRIFTWATCH_LOG";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// `DRIFTWATCH_LOG_FORMAT` holds something else than `text` or `json`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{FORMAT_VAR}={0:?} is not a log format (text, json)")]
pub struct UnknownLogFormat(pub String);

impl LogFormat {
    /// The format `DRIFTWATCH_LOG_FORMAT` asks for; unset or empty is text.
    pub fn from_env() -> Result<LogFormat, UnknownLogFormat> {
        match std::env::var(FORMAT_VAR) {
            Ok(value) => value.parse(),
            Err(_) => Ok(LogFormat::Text),
        }
    }
}

impl std::str::FromStr for LogFormat {
    type Err = UnknownLogFormat;

    fn from_str(s: &str) -> Result<LogFormat, UnknownLogFormat> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(UnknownLogFormat(s.to_owned())),
        }
    }
}

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init() -> Result<(), UnknownLogFormat> {
    let format = LogFormat::from_env()?;
    let filter = EnvFilter::try_from_env(FILTER_VAR).unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().with_current_span(false).init(),
        LogFormat::Text => {
            let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            builder.with_ansi(colour).init()
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_a_closed_set() {
        assert_eq!("json".parse(), Ok(LogFormat::Json));
        assert_eq!(" JSON ".parse(), Ok(LogFormat::Json));
        assert_eq!("text".parse(), Ok(LogFormat::Text));
        assert_eq!("".parse(), Ok(LogFormat::Text));
        let err = "logfmt".parse::<LogFormat>().unwrap_err();
        assert_eq!(err, UnknownLogFormat("logfmt".into()));
        assert!(err.to_string().contains("DRIFTWATCH_LOG_FORMAT"), "{err}");
    }
}
