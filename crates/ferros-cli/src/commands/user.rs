//! `ferros user add|list`.

use crate::output::say;
use std::collections::BTreeSet;
use std::io::BufRead;

use ferros_db::NewUser;
use ferros_domain::{Profile, validate_username};
use serde::Serialize;

use super::print_json;
use crate::cli::UserCmd;
use crate::context::Context;
use crate::error::{CliError, CliResult};

pub async fn run(ctx: &Context, cmd: UserCmd) -> CliResult {
    match cmd {
        UserCmd::Add { name, profiles, programs, email, password_stdin } => {
            validate_username(&name).map_err(|e| CliError::input(e.to_string()))?;
            let profiles: BTreeSet<Profile> = profiles
                .iter()
                .map(|p| p.parse::<Profile>().map_err(|e| CliError::input(format!("--profile: {e}"))))
                .collect::<CliResult<_>>()?;
            let (password, generated) = if password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).map_err(anyhow::Error::from)?;
                let pw = line.trim_end_matches(['\r', '\n']).to_owned();
                ferros_auth::check_password(&name, &pw).map_err(|e| CliError::input(e.to_string()))?;
                (pw, false)
            } else {
                (ferros_auth::generate_password(), true)
            };
            let db = ctx.open_db().await?;
            let new = NewUser {
                username: name,
                email,
                password_hash: ferros_auth::hash(&password).map_err(anyhow::Error::from)?,
                profiles,
                programs,
            };
            let user = db.create_user(&new, ctx.clock.now()).await?;
            let labels: Vec<&str> = user.profiles.iter().map(|p| p.label()).collect();
            say!("user {} \"{}\" created ({})", user.id, user.username, labels.join(", "));
            if generated {
                say!("password: {password}");
                eprintln!("note: the password is shown only this once");
            }
            Ok(())
        }
        UserCmd::List { json } => {
            let db = ctx.open_db().await?;
            let users = db.list_users().await?;
            let programs = db.list_programs().await?;
            let views: Vec<UserView> = users
                .into_iter()
                .map(|u| UserView {
                    id: u.id.0,
                    profiles: u.profiles.iter().map(|p| p.code()).collect(),
                    programs: programs
                        .iter()
                        .filter(|p| u.programs.contains(&p.id))
                        .map(|p| p.name.clone())
                        .collect(),
                    username: u.username,
                    email: u.email,
                    active: u.active,
                })
                .collect();
            if json {
                return print_json(&views);
            }
            say!("{:<4} {:<16} {:<6} {:<30} PROGRAMS", "ID", "USER", "ACTIVE", "PROFILES");
            for v in views {
                say!(
                    "{:<4} {:<16} {:<6} {:<30} {}",
                    v.id,
                    v.username,
                    if v.active { "yes" } else { "no" },
                    v.profiles.join(","),
                    v.programs.join(",")
                );
            }
            Ok(())
        }
    }
}

#[derive(Debug, Serialize)]
struct UserView {
    id: i64,
    username: String,
    email: String,
    active: bool,
    profiles: Vec<&'static str>,
    programs: Vec<String>,
}
