use std::io::BufRead;

use clap::{Parser, Subcommand};
use yishi::config::Settings;
use yishi::db::Db;

/// jemalloc rather than the system allocator: see the note beside it in Cargo.toml.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings (its `malloc_conf`, read at start): a background thread gives memory
/// freed after a burst back to the system within a few seconds, even when the process is then
/// quiet (by default that happens only as it allocates again). `_RJEM_MALLOC_CONF` in the
/// environment overrides it.
#[allow(unsafe_code)] // the one symbol jemalloc reads; no code runs unsafely
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static MALLOC_CONF: Option<&'static u8> =
    Some(&b"background_thread:true,dirty_decay_ms:2000,muzzy_decay_ms:0\0"[0]);

#[derive(Parser)]
#[command(
    name = "yishi",
    version,
    about = "Yishi 议事厅: community consultation platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the platform (the default).
    Serve,
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Print the OpenAPI spec to standard output.
    Openapi,
    /// Administrator accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Load a realistic demo data set (places, organisations, people, units).
    Demo,
    /// The tamper-evident record.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The master key file (YISHI_SEALING_KEY_FILE).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Copy the SQLite database to a new file while the server runs (PostgreSQL: pg_dump).
    Backup {
        /// The new file to write.
        path: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a platform administrator. The password is read from YISHI_ADMIN_PASSWORD or,
    /// when that is unset, from the first line of standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "平台管理员")]
        name: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Put a new key on top of the file and seal again under it everything sealed (bids,
    /// queued one-time links). Stop the servers first; they read the file when they start.
    Rotate,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute every hash chain; exits non-zero when a link is broken, or when the record
    /// no longer holds what a head published earlier was taken over.
    Verify {
        /// A head published earlier (`yishi-audit-head/1 …`, from the board or the officers'
        /// mail): the record must still hold the entries it was taken over.
        #[arg(long)]
        against: Option<String>,
    },
}

fn init_tracing(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("YISHI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if settings.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn connect(settings: &Settings) -> Result<Db, String> {
    let db = Db::connect(settings)
        .await
        .map_err(|e| format!("cannot connect to the database: {e}"))?;
    db.migrate()
        .await
        .map_err(|e| format!("cannot migrate the database: {e}"))?;
    Ok(db)
}

async fn run(cli: Cli, settings: Settings) -> Result<(), String> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(settings.bind)
                .await
                .map_err(|e| format!("cannot listen on {}: {e}", settings.bind))?;
            yishi::startup::run(settings, listener, yishi::startup::shutdown_signal())
                .await
                .map_err(|e| e.to_string())
        }
        Command::Migrate => {
            connect(&settings).await?;
            eprintln!("database is up to date");
            Ok(())
        }
        Command::Openapi => {
            let mut spec_settings = settings.clone();
            spec_settings.database_url = yishi::config::Secret::new("sqlite::memory:");
            let db = Db::connect(&spec_settings)
                .await
                .map_err(|e| e.to_string())?;
            let state = yishi::state::AppState::new(db, std::sync::Arc::new(spec_settings));
            println!("{}", yishi::api::spec_json(&state));
            Ok(())
        }
        Command::Admin {
            command: AdminCommand::Create { email, name },
        } => {
            let password = match std::env::var("YISHI_ADMIN_PASSWORD") {
                Ok(p) if !p.is_empty() => p,
                _ => {
                    eprintln!("password (one line):");
                    let mut line = String::new();
                    std::io::stdin()
                        .lock()
                        .read_line(&mut line)
                        .map_err(|e| e.to_string())?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let db = connect(&settings).await?;
            let id = yishi::admin::create_admin(&db, &email, &name, &password)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!("administrator {email} created ({id})");
            Ok(())
        }
        Command::Demo => {
            let db = connect(&settings).await?;
            let accounts = yishi::demo::load_demo(&db)
                .await
                .map_err(|e| e.to_string())?;
            let state = yishi::state::AppState::new(db, std::sync::Arc::new(settings.clone()));
            yishi::demo::polls::load(&state, "guihua")
                .await
                .map_err(|e| format!("demo polls: {e}"))?;
            yishi::demo::resolutions::load(&state, "guihua")
                .await
                .map_err(|e| format!("demo resolutions: {e}"))?;
            yishi::demo::procurement::load(&state, "guihua")
                .await
                .map_err(|e| format!("demo procurements: {e}"))?;
            println!(
                "Demo loaded. Every demo account's password is {}",
                yishi::demo::DEMO_PASSWORD
            );
            for (email, name) in accounts {
                println!("  {email:<45} {name}");
            }
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rotate,
        } => {
            let db = connect(&settings).await?;
            let done = yishi::rotation::rotate(&db.conn, &settings.sealing_key_file)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "new key on top of {}; sealed again: {} bids, {} queued messages",
                settings.sealing_key_file.display(),
                done.bids,
                done.messages
            );
            println!(
                "older keys stay in the file so that unsubscribe links already mailed still work; the last line keys the register's document hashes and must stay"
            );
            Ok(())
        }
        Command::Backup { path } => {
            let db = connect(&settings).await?;
            let bytes = db.backup_to(&path).await?;
            println!("backed up to {} ({bytes} bytes)", path.display());
            println!(
                "also keep a copy of the bid sealing key ({}) and the evidence files ({}): the database cannot open sealed bids or show evidence without them",
                settings.sealing_key_file.display(),
                settings.evidence_dir.display()
            );
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify { against },
        } => {
            let earlier = match against.as_deref() {
                Some(text) => Some(yishi::audit::heads::Head::parse(text).ok_or_else(|| {
                    "--against takes a head as published: yishi-audit-head/1 <day> <positions> <digest>".to_string()
                })?),
                None => None,
            };
            let db = connect(&settings).await?;
            let v = yishi::audit::service::verify(&db.conn)
                .await
                .map_err(|e| e.to_string())?;
            if let Some(b) = v.first_broken() {
                return Err(format!(
                    "record BROKEN: chain {} at entry {} ({}): {}",
                    b.shard,
                    b.seq,
                    b.entry_id
                        .map(|i| i.to_string())
                        .unwrap_or_else(|| "missing".into()),
                    b.reason
                ));
            }
            println!(
                "record intact: {} entries in {} chains",
                v.entries_checked, v.chains
            );
            if let Some(earlier) = earlier {
                let holds = yishi::audit::heads::matches(&db.conn, &earlier)
                    .await
                    .map_err(|e| e.to_string())?;
                if !holds {
                    return Err(format!(
                        "record REWRITTEN: it no longer holds the {} entries the head of {} was published over",
                        earlier.entries(),
                        earlier.day
                    ));
                }
                println!(
                    "and it holds the {} entries the head of {} was published over",
                    earlier.entries(),
                    earlier.day
                );
            }
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("yishi: {e}");
            std::process::exit(2);
        }
    };
    init_tracing(&settings);
    if let Err(e) = run(cli, settings).await {
        eprintln!("yishi: {e}");
        std::process::exit(1);
    }
}
