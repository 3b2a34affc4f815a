//! The `parley` command: run the engine, check scripts, and talk to the hub from a terminal.

mod app;
mod client;
mod config;
mod hub_client;
mod run;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "parley",
    version,
    about = "An actor-based engine for instant-messaging bots, scripted in Rhai"
)]
struct Cli {
    /// The configuration file.
    #[arg(
        long,
        short,
        global = true,
        default_value = "config/parley.toml",
        env = "PARLEY_CONFIG"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start Parley: HTTP server, embedded hub, engine and bots.
    Run {
        /// Listen here instead of the config's server.bind (port 0 picks a free port).
        #[arg(long)]
        bind: Option<String>,
        /// Keep data here instead of the config's server.data_dir.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Compile every bot script and report errors with file:line:col.
    Check,
    /// Chat with the bots interactively as a hub user.
    Chat {
        #[command(flatten)]
        login: hub_client::Login,
    },
    /// Send one message as a hub user and print each reply as a JSON line.
    Send {
        #[command(flatten)]
        login: hub_client::Login,
        /// A user id, or group:ID.
        #[arg(long)]
        to: String,
        /// The text to send.
        text: String,
        /// Seconds to wait for replies.
        #[arg(long, default_value_t = 5.0)]
        wait: f64,
        /// Exit as soon as this many replies arrived (exit code 1 if fewer came in time).
        #[arg(long)]
        replies: Option<usize>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { bind, data_dir } => run::run(&cli.config, bind, data_dir),
        Command::Check => run::check(&cli.config),
        Command::Chat { login } => client::chat(&cli.config, login),
        Command::Send {
            login,
            to,
            text,
            wait,
            replies,
        } => client::send(&cli.config, login, &to, &text, wait, replies),
    }
}
