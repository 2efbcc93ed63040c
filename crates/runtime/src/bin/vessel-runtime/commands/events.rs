use std::time::Duration;

use super::Globals;

#[derive(clap::Args)]
pub struct Args {
    /// Print one stats event and exit.
    #[arg(long)]
    pub stats: bool,
    /// Interval between stats events, e.g. 5s, 500ms.
    #[arg(long, default_value = "5s")]
    pub interval: String,
    pub id: String,
}

fn parse_interval(text: &str) -> anyhow::Result<Duration> {
    let (num, unit) = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map(|i| text.split_at(i))
        .unwrap_or((text, "s"));
    let n: f64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("--interval {text:?}: expected e.g. 5s or 500ms"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        _ => anyhow::bail!("--interval {text:?}: unit must be ms, s or m"),
    };
    if secs <= 0.0 {
        anyhow::bail!("--interval must be positive");
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn run(args: Args, g: &Globals) -> anyhow::Result<i32> {
    let interval = parse_interval(&args.interval)?;
    let emit = |kind: &str, data: serde_json::Value| {
        println!(
            "{}",
            serde_json::json!({"type": kind, "id": args.id, "data": data})
        );
    };
    if args.stats {
        let stats = g.runtime.stats(&args.id)?;
        emit("stats", serde_json::to_value(stats)?);
        return Ok(0);
    }
    let mut last_oom = None;
    loop {
        let stats = match g.runtime.stats(&args.id) {
            Ok(s) => s,
            // The container stopped or was deleted: the event stream ends.
            Err(_) => return Ok(0),
        };
        let value = serde_json::to_value(&stats)?;
        let oom = value["memory"]["oom_kill"].as_u64();
        if let (Some(now), Some(before)) = (oom, last_oom) {
            if now > before {
                emit("oom", serde_json::Value::Null);
            }
        }
        last_oom = oom.or(last_oom);
        emit("stats", value);
        std::thread::sleep(interval);
    }
}
