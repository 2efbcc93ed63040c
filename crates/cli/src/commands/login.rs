//! `vessel login` and `vessel logout`: the daemon checks the credentials (`POST /auth`, as
//! docker does), then they are kept in `~/.docker/config.json`, shared with docker.

use std::io::{self, BufRead, IsTerminal, Write};

use serde_json::json;
use vessel_distribution::docker_config::{default_path, server_key, DockerConfig};
use vessel_distribution::{registry_of_server, Credentials};

use super::Exit;
use crate::client::Client;
use crate::http::Body;

#[derive(clap::Args)]
pub struct LoginArgs {
    /// Username
    #[arg(short = 'u', long)]
    username: Option<String>,
    /// Password
    #[arg(short = 'p', long)]
    password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    password_stdin: bool,
    /// Registry (default: Docker Hub)
    server: Option<String>,
}

#[derive(clap::Args)]
pub struct LogoutArgs {
    /// Registry (default: Docker Hub)
    server: Option<String>,
}

fn prompt(label: &str) -> anyhow::Result<String> {
    eprint!("{label}");
    io::stderr().flush()?;
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Reads a line from the terminal with echo off.
fn prompt_hidden(label: &str) -> anyhow::Result<String> {
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain data; tcgetattr fills it for a valid fd and we check the result.
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd is stdin, `old` is a valid out pointer.
    let have = unsafe { libc::tcgetattr(fd, &mut old) } == 0;
    if have {
        let mut quiet = old;
        quiet.c_lflag &= !libc::ECHO;
        // SAFETY: valid fd and a termios derived from the current one.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    }
    let line = prompt(label);
    if have {
        // SAFETY: restores the settings read above.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &old) };
        eprintln!();
    }
    line
}

pub fn login(c: &Client, a: LoginArgs) -> anyhow::Result<()> {
    let server = a.server.unwrap_or_else(|| "docker.io".into());
    let registry = registry_of_server(&server);
    if a.password.is_some() && a.password_stdin {
        anyhow::bail!("--password and --password-stdin are mutually exclusive");
    }
    if a.password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    let username = match a.username {
        Some(u) => u,
        None if a.password_stdin => anyhow::bail!("Must provide --username with --password-stdin"),
        None => prompt("Username: ")?,
    };
    let password = match a.password {
        Some(p) => p,
        None if a.password_stdin => {
            let mut s = String::new();
            io::stdin().lock().read_line(&mut s)?;
            s.trim_end_matches(['\r', '\n']).to_string()
        }
        None if io::stdin().is_terminal() => prompt_hidden("Password: ")?,
        None => prompt("Password: ")?,
    };
    if username.is_empty() {
        return Err(Exit(1, "Error: Non-null Username Required".into()).into());
    }
    let body = json!({
        "username": username,
        "password": password,
        "serveraddress": server_key(&registry),
    });
    let data = serde_json::to_vec(&body)?;
    c.call("POST", "/auth", Body::Bytes(&data, "application/json"))
        .map_err(|e| Exit(1, e.to_string()))?;
    let mut config = DockerConfig::load(&default_path())?;
    config.store(&registry, &Credentials::basic(&username, &password))?;
    println!("Login Succeeded");
    Ok(())
}

pub fn logout(a: LogoutArgs) -> anyhow::Result<()> {
    let server = a.server.unwrap_or_else(|| "docker.io".into());
    let registry = registry_of_server(&server);
    let mut config = DockerConfig::load(&default_path())?;
    if config.erase(&registry)? {
        println!("Removing login credentials for {}", server_key(&registry));
    } else {
        println!("Not logged in to {}", server_key(&registry));
    }
    Ok(())
}
