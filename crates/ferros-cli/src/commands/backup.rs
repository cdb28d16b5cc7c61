//! `ferros backup DIR` and `ferros restore DIR`: the database (an online
//! copy, SQLite or PostgreSQL) and the configuration file.

use std::path::Path;

use crate::context::Context;
use crate::error::{CliError, CliResult};
use crate::output::say;

/// The configuration file in a backup.
const CONFIG: &str = "ferros.toml";

pub async fn backup(ctx: &Context, dir: &Path) -> CliResult {
    let db = ctx.open_db().await?;
    let m = db.backup(dir, ctx.clock.now()).await?;
    let rows: i64 = m.tables.values().sum();
    let config = match &ctx.config_file {
        Some(file) => {
            let to = dir.join(CONFIG);
            std::fs::copy(file, &to).map_err(|e| {
                CliError::Failure(anyhow::anyhow!("cannot copy {} to {}: {e}", file.display(), to.display()))
            })?;
            format!(", the configuration {}", file.display())
        }
        None => ", no configuration file (the defaults are in use)".to_owned(),
    };
    say!(
        "backed up {} database ({} tables, {rows} rows, schema {}){config} into {}",
        m.backend,
        m.tables.len(),
        m.schema,
        dir.display()
    );
    Ok(())
}

pub async fn restore(ctx: &Context, dir: &Path) -> CliResult {
    ferros_db::Db::read_manifest(dir)?;
    let db = ctx.open_db().await?;
    let m = db.restore(dir).await?;
    let rows: i64 = m.tables.values().sum();
    say!(
        "restored {rows} rows of {} tables (backup of {}) into {}",
        m.tables.len(),
        m.made_at.format("%Y-%m-%d %H:%M:%S UTC"),
        ferros_db::redact_url(&ctx.settings.database_url())
    );
    let saved = dir.join(CONFIG);
    if saved.is_file() {
        let target = ctx.config_file.clone().unwrap_or_else(|| ferros_config::DEFAULT_CONFIG_FILE.into());
        if target.exists() {
            eprintln!(
                "note: {} exists and was kept; the backup's configuration is {}",
                target.display(),
                saved.display()
            );
        } else {
            std::fs::copy(&saved, &target).map_err(|e| {
                CliError::Failure(anyhow::anyhow!(
                    "cannot copy {} to {}: {e}",
                    saved.display(),
                    target.display()
                ))
            })?;
            say!("configuration restored to {}", target.display());
        }
    }
    Ok(())
}
