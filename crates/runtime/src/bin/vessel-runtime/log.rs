//! Error and debug lines: to stderr, and to `--log` in runc's text or JSON format, where
//! containerd and conmon look for the runtime's last error.

use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub struct Logger {
    file: Option<PathBuf>,
    format: Format,
    debug: bool,
}

impl Logger {
    pub fn new(file: Option<PathBuf>, format: Format, debug: bool) -> Self {
        Logger {
            file,
            format,
            debug,
        }
    }

    pub fn error(&self, message: &str) {
        eprintln!("vessel-runtime: {message}");
        self.write("error", message);
    }

    pub fn warn(&self, message: &str) {
        eprintln!("vessel-runtime: warning: {message}");
        self.write("warning", message);
    }

    pub fn debug(&self, message: &str) {
        if self.debug {
            eprintln!("vessel-runtime: debug: {message}");
            self.write("debug", message);
        }
    }

    fn write(&self, level: &str, message: &str) {
        let Some(path) = &self.file else { return };
        let time = vessel_runtime::state::rfc3339_now();
        let line = match self.format {
            Format::Json => {
                serde_json::json!({"level": level, "msg": message, "time": time}).to_string()
            }
            Format::Text => format!("time={time:?} level={level} msg={message:?}"),
        };
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}
