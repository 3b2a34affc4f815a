//! The `parley` command: run the engine, check scripts, and talk to the hub from a terminal.

mod admin;
mod app;
mod check;
mod client;
mod config;
mod console;
mod hub_client;
mod jobs_cli;
mod metrics;
mod run;
mod transcript;

use anyhow::Result;

/// mimalloc instead of the system allocator: the engine allocates and frees many small
/// buffers across threads (envelopes, JSON, HTTP), where glibc's malloc spent a fifth of
/// the engine thread's time; with mimalloc the Tencent callbacks bench used 15% less CPU
/// (farm-bench, 6 runs paired). The benches declare it too, to measure what runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Compile bot scripts (files or folders; default: the bots folder) and report errors
    /// as file:line:col.
    Check { paths: Vec<PathBuf> },
    /// Run transcripts (files or folders of *.txt; default: transcripts/ in the bots
    /// folder) against an in-process Parley.
    Test {
        paths: Vec<PathBuf>,
        /// Play them on this platform (repeat for several; `all` for every one): the hub,
        /// or a local Tencent Cloud IM or OneBot v11 implementation. Default: the hub.
        #[arg(long, value_name = "hub|tencent|onebot|all")]
        platform: Vec<String>,
    },
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
    /// Send any one hub protocol request as a user; print the answer and every event that
    /// reaches the user within the wait, one JSON object per line.
    Call {
        #[command(flatten)]
        login: hub_client::Login,
        /// The request, e.g. '{"type":"groups"}'.
        request: String,
        /// Seconds to keep printing events after the answer.
        #[arg(long, default_value_t = 0.0)]
        wait: f64,
    },
    /// Start a broadcast of one text to many recipients and follow its progress
    /// (needs the admin token in the environment).
    Broadcast {
        #[command(flatten)]
        admin: jobs_cli::Admin,
        /// A recipient: a user id, group:ID, all:friends or all:groups (of the
        /// connection's account); repeat for more.
        #[arg(long, required = true)]
        to: Vec<String>,
        /// The connection to send on (default: the first configured).
        #[arg(long)]
        connection: Option<String>,
        /// Return once the job is started instead of showing its progress.
        #[arg(long)]
        no_wait: bool,
        text: String,
    },
    /// List broadcast jobs, show one, or pause, resume or cancel it.
    Jobs {
        #[command(flatten)]
        admin: jobs_cli::Admin,
        #[command(subcommand)]
        command: Option<jobs_cli::JobsCommand>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { bind, data_dir } => run::run(&cli.config, bind, data_dir),
        Command::Check { paths } => check::check(&cli.config, &paths),
        Command::Test { paths, platform } => {
            transcript::test(&cli.config, &paths, &transcript::platforms(&platform)?)
        }
        Command::Chat { login } => client::chat(&cli.config, login),
        Command::Call {
            login,
            request,
            wait,
        } => client::call(&cli.config, login, &request, wait),
        Command::Broadcast {
            admin,
            to,
            connection,
            no_wait,
            text,
        } => jobs_cli::broadcast(&cli.config, admin, to, &text, connection, !no_wait),
        Command::Jobs { admin, command } => jobs_cli::jobs(&cli.config, admin, command),
        Command::Send {
            login,
            to,
            text,
            wait,
            replies,
        } => client::send(&cli.config, login, &to, &text, wait, replies),
    }
}
