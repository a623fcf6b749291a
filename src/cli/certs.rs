//! `confsync certs`: a certificate authority, and certificates for agents and admins.
//! The work is in [`confsync_wire::tls::pki`]; this file reads the flags and says what to
//! do next.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use confsync_wire::tls::Role;
use confsync_wire::tls::pki::{self, Authority, CertRequest};

use crate::agent::inventory;
use crate::cli::{ExitCode, UsageError};

#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Create a certificate authority: DIR/ca.pem (give it to every agent and admin) and
    /// DIR/ca.key (keep it on this machine only).
    #[command(after_help = "Example:\n  confsync certs init --dir /etc/confsync/pki")]
    Init(InitArgs),
    /// Issue a certificate and key signed by the CA in DIR: DIR/NAME.pem and DIR/NAME.key.
    #[command(after_help = "Examples:\n  \
        confsync certs issue primary --role agent --san primary.lan --san 10.0.0.1 --dir /etc/confsync/pki\n  \
        confsync certs issue alice --role admin --dir /etc/confsync/pki")]
    Issue(IssueArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Folder for the CA files (created with mode 0700).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,

    /// The CA's common name [default: "confsync CA", this host's name, the date and a
    /// random tag].
    #[arg(long)]
    pub name: Option<String>,

    /// Replace an existing CA (every certificate it issued stops being trusted).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The certificate's name: the server's name for an agent, a person's for an admin.
    pub name: String,

    /// agent: serves and pulls from other agents; admin: plans, applies, rolls back.
    #[arg(long, value_parser = parse_role)]
    pub role: Role,

    /// Host name or IP address the agent is reached at; repeat for each (agents only).
    #[arg(long, value_name = "HOST")]
    pub san: Vec<String>,

    /// Folder holding the CA (from `certs init`); the new files are written there.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,

    /// Days the certificate is valid.
    #[arg(long, value_name = "N", default_value_t = pki::DEFAULT_DAYS)]
    pub days: i64,

    /// Replace existing files of the same name.
    #[arg(long)]
    pub force: bool,
}

fn parse_role(text: &str) -> Result<Role, String> {
    text.parse()
}

pub async fn run(command: CertsCommand) -> anyhow::Result<ExitCode> {
    match command {
        CertsCommand::Init(args) => init(&args),
        CertsCommand::Issue(args) => issue(&args),
    }
}

fn init(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let cert_path = args.dir.join(pki::CA_CERT);
    let key_path = args.dir.join(pki::CA_KEY);
    if !args.force && (cert_path.exists() || key_path.exists()) {
        return Err(UsageError(format!(
            "a CA already exists in {}; keep using it, or pass --force to replace it \
             (certificates it issued then stop being trusted)",
            args.dir.display()
        ))
        .into());
    }
    pki::create_dir(&args.dir)?;
    // A distinct name per CA: a certificate of another CA is then "unknown issuer", not
    // a puzzling bad signature from a same-named one.
    let name = args.name.clone().unwrap_or_else(|| pki::default_ca_name(&inventory::hostname()));
    let (_, issued) = Authority::generate(&name)?;
    pki::write_file(&key_path, &issued.key_pem, 0o600, args.force)?;
    pki::write_file(&cert_path, &issued.cert_pem, 0o644, args.force)?;
    println!("Created the certificate authority {name:?}:");
    println!("  {}  (give it to every agent and admin)", cert_path.display());
    println!("  {}  (private: keep it here, never copy it to a server)", key_path.display());
    println!();
    println!("Next, one certificate per server and per administrator:");
    println!("  confsync certs issue SERVER --role agent --san HOST --dir {}", args.dir.display());
    println!("  confsync certs issue YOU --role admin --dir {}", args.dir.display());
    Ok(ExitCode::Success)
}

fn issue(args: &IssueArgs) -> anyhow::Result<ExitCode> {
    pki::check_name(&args.name).map_err(|e| UsageError(e.to_string()))?;
    if args.days < 1 {
        return Err(UsageError("--days must be at least 1".into()).into());
    }
    if args.role == Role::Admin && !args.san.is_empty() {
        return Err(UsageError(
            "--san names where an agent is reached; an admin certificate takes none".into(),
        )
        .into());
    }
    let authority = Authority::load(&args.dir)?;
    let mut sans = args.san.clone();
    if args.role == Role::Agent && !sans.contains(&args.name) && pki::check_san(&args.name) {
        // The server's name is usually also how it is reached.
        sans.push(args.name.clone());
    }
    let request = CertRequest::valid_for(&args.name, args.role, sans.clone(), args.days);
    let issued = authority.issue(&request)?;
    let cert_path = args.dir.join(format!("{}.pem", args.name));
    let key_path = args.dir.join(format!("{}.key", args.name));
    if !args.force {
        for path in [&cert_path, &key_path] {
            if path.exists() {
                return Err(UsageError(format!(
                    "{} already exists; pass --force to replace it",
                    path.display()
                ))
                .into());
            }
        }
    }
    pki::write_file(&key_path, &issued.key_pem, 0o600, args.force)?;
    pki::write_file(&cert_path, &issued.cert_pem, 0o644, args.force)?;
    println!("Issued {} certificate {:?}, valid {} days:", args.role, args.name, args.days);
    println!("  {}", cert_path.display());
    println!("  {}  (private, mode 0600)", key_path.display());
    print_next_steps(args, &sans, &cert_path, &key_path);
    Ok(ExitCode::Success)
}

fn print_next_steps(args: &IssueArgs, sans: &[String], cert: &Path, key: &Path) {
    let ca = args.dir.join(pki::CA_CERT);
    println!();
    match args.role {
        Role::Agent => {
            println!("Reachable as: {}", sans.join(", "));
            println!(
                "Copy {}, {} and {} to {}, and add to its agent.toml:",
                ca.display(),
                cert.display(),
                key.display(),
                args.name
            );
            println!("  [tls]");
            println!("  ca = {:?}", ca.display().to_string());
            println!("  cert = {:?}", cert.display().to_string());
            println!("  key = {:?}", key.display().to_string());
        }
        Role::Admin => {
            println!("Connect with it:");
            println!(
                "  confsync --ca {} --cert {} --key {} sync --from PRIMARY --to BACKUP",
                ca.display(),
                cert.display(),
                key.display()
            );
            println!("or set CONFSYNC_CA, CONFSYNC_CERT and CONFSYNC_KEY.");
        }
    }
}
