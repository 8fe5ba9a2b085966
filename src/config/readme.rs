//! Keeps README.md's configuration table true to the clap definitions: every serve flag
//! has a row with its env var and default, and every row names a real flag. On a
//! mismatch the test prints the rows to paste.

use clap::CommandFactory;

use super::Cli;

const README: &str = include_str!("../../README.md");

/// One serve flag as clap defines it.
struct Flag {
    long: String,
    env: String,
    default: Option<String>,
    doc: String,
}

impl Flag {
    /// The README row clap's definition gives (the last column from the doc comment).
    fn row(&self) -> String {
        let default = self.default.as_ref().map_or("unset".to_owned(), |d| format!("`{d}`"));
        format!("| `--{}` | `{}` | {default} | {} |", self.long, self.env, self.doc)
    }
}

fn serve_flags() -> Vec<Flag> {
    let cmd = Cli::command();
    let serve = cmd.find_subcommand("serve").expect("serve subcommand");
    serve
        .get_arguments()
        .filter_map(|arg| {
            let long = arg.get_long()?;
            let env = arg.get_env()?;
            let defaults: Vec<_> = arg.get_default_values().iter().map(|v| v.to_string_lossy()).collect();
            Some(Flag {
                long: long.to_owned(),
                env: env.to_string_lossy().into_owned(),
                default: (!defaults.is_empty()).then(|| defaults.join(",")),
                doc: arg.get_help().map(ToString::to_string).unwrap_or_default(),
            })
        })
        .collect()
}

/// The table's rows as (flag, env, default) cells, backticks kept.
fn readme_rows() -> Vec<(String, String, String)> {
    let section = README.split("\n## Configuration\n").nth(1).expect("README has a ## Configuration section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter(|l| l.starts_with("| `--"))
        .map(|l| {
            let mut cells = l.trim_start_matches('|').splitn(4, '|').map(|c| c.trim().to_owned());
            let mut next = || cells.next().unwrap_or_default();
            (next(), next(), next())
        })
        .collect()
}

#[test]
fn readme_configuration_table_matches_the_serve_flags() {
    let flags = serve_flags();
    let rows = readme_rows();
    assert!(flags.len() > 30, "clap lists {} serve flags with an env var", flags.len());
    let mut problems = Vec::new();
    for flag in &flags {
        let name = format!("`--{}`", flag.long);
        let Some((_, env, default)) = rows.iter().find(|(f, _, _)| *f == name) else {
            problems.push(format!("missing row, paste:\n{}", flag.row()));
            continue;
        };
        let env_ok = *env == format!("`{}`", flag.env);
        // Without a clap default the cell says in words what unset means.
        let default_ok = flag.default.as_ref().is_none_or(|d| *default == format!("`{d}`"));
        if !env_ok || !default_ok {
            problems.push(format!("row {name} says env {env}, default {default}; clap gives:\n{}", flag.row()));
        }
    }
    for (name, _, _) in &rows {
        if !flags.iter().any(|f| *name == format!("`--{}`", f.long)) {
            problems.push(format!("row {name} is not a serve flag (with an env var): remove or rename it"));
        }
    }
    assert!(problems.is_empty(), "README.md ## Configuration is out of date:\n\n{}\n", problems.join("\n\n"));
}
