//! Logging to stderr with `tracing`; `--debug` (or `"debug": true`) lowers the level.

/// Installs the subscriber once per process; later calls (tests, embedding) are no-ops.
pub fn init(debug: bool) {
    let level = if debug {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .try_init();
}
