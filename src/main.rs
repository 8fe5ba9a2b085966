//! The `tandem` binary: parse config, init tracing, then serve, mint a token, migrate,
//! grant the instance admin role or back up.

use anyhow::Context;
use clap::Parser;
use tandem::config::{AdminAction, AdminArgs, BackupArgs, Cli, Command, LogFormat, ServeConfig, TokenArgs};
use tandem::identity::tokens::{Grant, Keys};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Token(args)) => token(args),
        Some(Command::Serve(cfg)) => serve(cfg).await,
        Some(Command::Migrate(args)) => {
            tandem::store::open(&args.database_url(), args.storage.sqlite_synchronous).await?;
            println!("migrations applied to {}", redact(&args.database_url()));
            Ok(())
        }
        Some(Command::Admin(args)) => admin(args).await,
        Some(Command::Backup(args)) => backup(args).await,
        None => serve(cli.serve).await,
    }
}

/// Grants or revokes the instance admin role, recording it in the audit log.
async fn admin(args: AdminArgs) -> anyhow::Result<()> {
    use tandem::store::admin::AdminRefusal;
    use tandem::store::audit::{AuditAction, AuditEntry};
    let store = tandem::store::open(&args.database_url(), args.storage.sqlite_synchronous).await?;
    let (email, grant) = match &args.action {
        AdminAction::Grant { email } => (email.trim().to_lowercase(), true),
        AdminAction::Revoke { email } => (email.trim().to_lowercase(), false),
    };
    let action = if grant { AuditAction::AdminGranted } else { AuditAction::AdminRevoked };
    let entry = AuditEntry {
        at: tandem::store::catalog::now_ms(),
        ..AuditEntry::new(action).detail(serde_json::json!({"via": "cli"}))
    };
    match store.set_admin(&email, grant, entry).await? {
        Ok(id) => {
            let done = if grant { "is now an instance admin" } else { "is no longer an instance admin" };
            println!("{email} ({id}) {done}");
            Ok(())
        }
        Err(AdminRefusal::NoSuchUser) => anyhow::bail!("no account has the email {email}"),
        Err(AdminRefusal::LastAdmin) => anyhow::bail!("{email} is the last enabled admin; grant another first"),
    }
}

/// Writes a backup and says what it holds.
async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let b = tandem::backup::run(&args).await?;
    println!("database: {} bytes in {}", b.database_bytes, b.database.display());
    if b.secret_copied {
        println!("token secret: copied (tokens and sessions it signed stay valid)");
    }
    match (b.blobs_in_bucket, b.blobs_listed - b.blobs_copied) {
        (true, _) => println!("attachments: {} in the bucket, not copied", b.blobs_listed),
        (false, 0) => println!("attachments: {} copied", b.blobs_copied),
        (false, gone) => println!(
            "attachments: {} copied; {gone} deleted while the backup ran are deleted from it too",
            b.blobs_copied
        ),
    }
    println!("restore: tandem serve --data-dir {}", b.to.display());
    Ok(())
}

async fn serve(cfg: ServeConfig) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    match cfg.server.log_format {
        LogFormat::Json => tracing_subscriber::fmt().json().with_env_filter(filter).init(),
        LogFormat::Text => tracing_subscriber::fmt().with_env_filter(filter).init(),
    }
    let listener = tokio::net::TcpListener::bind(cfg.server.listen)
        .await
        .with_context(|| format!("binding {}", cfg.server.listen))?;
    tandem::app::run(cfg, listener, shutdown_signal()).await
}

fn token(args: TokenArgs) -> anyhow::Result<()> {
    let grants = args.rooms.iter().map(|g| Grant::parse(g)).collect::<Result<Vec<_>, _>>()?;
    let keys = Keys::load(args.signing.jwt_secret.as_deref(), &args.common.data_dir)?;
    println!("{}", keys.mint(&args.sub, &grants, args.ttl));
    Ok(())
}

/// The URL without its password, for printing.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => match url[scheme + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
