//! What a server says about itself (`Hello`): its name, versions, what its tree holds in
//! summary, its last generation, its hold, and the machine it runs on. The agent fills it
//! in, the protocol carries it, the server list and the wizard show it.

use crate::category::Category;
use crate::entry::Digest;
use crate::hold::Hold;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ServerInfo {
    pub name: String,
    pub agent_version: String,
    pub protocol_version: u32,
    pub hostname: String,
    pub protected: bool,
    pub categories: Vec<CategorySummary>,
    pub tree_digest: Digest,
    pub last_generation: Option<LastGeneration>,
    /// Random per state folder: two addresses reaching one agent share it.
    pub instance_id: String,
    pub inventory: Inventory,
    pub hold: Option<Hold>,
    /// Its `[device_specific]` rules: as a source, every destination of it keeps these.
    pub device_specific: crate::rules::RulesFile,
    /// A commit-confirmed generation waiting for its confirmation.
    pub pending_confirmation: Option<crate::confirm::Pending>,
    /// Its wall clock when it answered, in milliseconds since the Unix epoch (0: not
    /// told), so that a peer can tell how far apart their clocks are.
    pub clock_ms: i64,
    /// An apply (or rollback) running now.
    pub applying: Option<Applying>,
}

/// An apply in progress, as `Hello` tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Applying {
    pub source: String,
    pub requested_by: String,
    /// Seconds since the Unix epoch.
    pub started_at: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub files_done: u64,
    pub files_total: u64,
}

/// What a server reports of its drift: the first paths, and how many there are.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DriftReport {
    pub recorded: bool,
    pub paths: Vec<(Category, crate::path::RelPath, crate::last_sync::DriftKind)>,
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CategorySummary {
    pub category: Category,
    pub files: u64,
    pub bytes: u64,
    pub digest: Digest,
    /// The category's folder, when it does not exist (served as an empty category).
    pub missing_folder: Option<String>,
}

/// The newest generation applied on the server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LastGeneration {
    pub id: u64,
    /// Seconds since the Unix epoch.
    pub time: u64,
    pub source: String,
}

/// What the machine is, for the server list.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Inventory {
    /// `primary` or `backup`, as configured.
    pub role: String,
    pub serial_number: String,
    /// Where the serial number came from: `dmi`, `config` or `machine-id`.
    pub serial_source: String,
    pub mac_addresses: Vec<String>,
    pub cpu_model: String,
    pub cpu_count: u32,
    pub memory_bytes: u64,
    pub os: String,
    pub uptime_seconds: u64,
}

impl ServerInfo {
    pub fn category(&self, category: Category) -> Option<&CategorySummary> {
        self.categories.iter().find(|c| c.category == category)
    }
}
