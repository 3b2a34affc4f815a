//! `parley broadcast` and `parley jobs`: start and follow broadcast jobs through the admin
//! API of a running Parley.

use crate::config::Config;
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// How to reach the admin API.
#[derive(clap::Args)]
pub struct Admin {
    /// The server's address, host:port (default: the config's server.bind).
    #[arg(long)]
    pub server: Option<String>,
}

#[derive(clap::Subcommand)]
pub enum JobsCommand {
    /// List every job (the default).
    List,
    /// One job's progress and its failures.
    Show {
        id: i64,
    },
    Pause {
        id: i64,
    },
    Resume {
        id: i64,
    },
    Cancel {
        id: i64,
    },
}

struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    fn new(config_path: &Path, admin: &Admin) -> Result<Api> {
        let (config, _) = Config::load(config_path)?;
        let var = &config.server.admin_token_env;
        let token = std::env::var(var)
            .ok()
            .filter(|t| !t.is_empty())
            .with_context(|| format!("set {var} to the admin token of the running Parley"))?;
        let server = admin
            .server
            .clone()
            .unwrap_or_else(|| config.server.bind.replace("0.0.0.0", "127.0.0.1"));
        Ok(Api {
            base: format!("http://{server}/admin/broadcasts"),
            token,
            http: reqwest::Client::new(),
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach {}; is `parley run` running?", self.base))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!(
                "{}: {}",
                body["code"].as_str().unwrap_or(status.as_str()),
                body["message"].as_str().unwrap_or("no message")
            );
        }
        Ok(body)
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

pub fn broadcast(
    config: &Path,
    admin: Admin,
    to: Vec<String>,
    text: &str,
    connection: Option<String>,
    wait: bool,
) -> Result<()> {
    let api = Api::new(config, &admin)?;
    runtime()?.block_on(async {
        let mut body = json!({"to": to, "text": text});
        if let Some(c) = connection {
            body["connection"] = json!(c);
        }
        let job = api.call(reqwest::Method::POST, "", Some(body)).await?;
        let id = job["id"].as_i64().unwrap_or_default();
        println!("broadcast job {id} started: {} recipients", job["total"]);
        if !wait {
            return Ok(());
        }
        let bar = ProgressBar::new(job["total"].as_u64().unwrap_or(0));
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} ({per_sec}, eta {eta})")
                .expect("a valid template"),
        );
        let job = loop {
            let job = api
                .call(reqwest::Method::GET, &format!("/{id}"), None)
                .await?;
            bar.set_position(
                (job["sent"].as_u64().unwrap_or(0)) + job["failed"].as_u64().unwrap_or(0),
            );
            bar.set_message(format!("sent, {} failed", job["failed"]));
            if matches!(job["status"].as_str(), Some("done" | "cancelled")) {
                break job;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        bar.finish();
        print_failures(&job);
        println!(
            "job {id} {}: {} sent, {} failed, {} left",
            job["status"].as_str().unwrap_or("?"),
            job["sent"],
            job["failed"],
            job["left"]
        );
        Ok(())
    })
}

pub fn jobs(config: &Path, admin: Admin, command: Option<JobsCommand>) -> Result<()> {
    let api = Api::new(config, &admin)?;
    runtime()?.block_on(async {
        match command.unwrap_or(JobsCommand::List) {
            JobsCommand::List => {
                let jobs = api.call(reqwest::Method::GET, "", None).await?;
                println!(
                    "{:>5}  {:<10} {:<10} {:>8} {:>8} {:>8} {:>8}",
                    "id", "connection", "status", "total", "sent", "failed", "left"
                );
                for j in jobs.as_array().into_iter().flatten() {
                    println!(
                        "{:>5}  {:<10} {:<10} {:>8} {:>8} {:>8} {:>8}",
                        j["id"],
                        j["connection"].as_str().unwrap_or(""),
                        j["status"].as_str().unwrap_or(""),
                        j["total"],
                        j["sent"],
                        j["failed"],
                        j["left"]
                    );
                }
            }
            JobsCommand::Show { id } => {
                let job = api
                    .call(reqwest::Method::GET, &format!("/{id}"), None)
                    .await?;
                println!("{}", serde_json::to_string_pretty(&job)?);
            }
            JobsCommand::Pause { id } => show_status(
                api.call(reqwest::Method::POST, &format!("/{id}/pause"), None)
                    .await?,
            ),
            JobsCommand::Resume { id } => show_status(
                api.call(reqwest::Method::POST, &format!("/{id}/resume"), None)
                    .await?,
            ),
            JobsCommand::Cancel { id } => show_status(
                api.call(reqwest::Method::POST, &format!("/{id}/cancel"), None)
                    .await?,
            ),
        }
        Ok(())
    })
}

fn show_status(job: Value) {
    println!(
        "job {} is {}: {} sent, {} failed, {} left",
        job["id"],
        job["status"].as_str().unwrap_or("?"),
        job["sent"],
        job["failed"],
        job["left"]
    );
}

fn print_failures(job: &Value) {
    for f in job["failures"].as_array().into_iter().flatten() {
        println!(
            "failed  {}: {}",
            f["target"].as_str().unwrap_or("?"),
            f["error"].as_str().unwrap_or("")
        );
    }
}
