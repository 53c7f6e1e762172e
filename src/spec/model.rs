//! The job spec as written: the types behind the JSON Schema, with every default documented.
//!
//! These types describe what the user may write; `read` fills them from a YAML tree (collecting
//! every mistake), `resolve` turns them into what the program uses. Field docs become the schema's
//! descriptions, so they are written for the person editing a spec.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use super::yaml::Pos;

/// The allowed shape of a job name (a DNS label): it also names ledger files and appears in job ids.
pub const NAME_PATTERN: &str = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$";

/// A value and where it was written, so later checks can point at it.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    pub value: T,
    pub pos: Pos,
}

impl<T> Located<T> {
    pub fn new(value: T, pos: Pos) -> Self {
        Self { value, pos }
    }
}

impl<T: Serialize> Serialize for Located<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<T: JsonSchema> JsonSchema for Located<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// One Flink job, deployed to a session cluster and kept in the state this spec describes.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "FlinkJob")]
pub struct JobSpec {
    /// The document format: always `flinkops.dev/v1`.
    pub api_version: ApiVersion,

    /// What this document describes: `FlinkJob`.
    pub kind: JobKind,

    /// Unique name across the spec directory; the identity of the job. Lowercase letters, digits
    /// and `-`, at most 63 characters. Renaming a job makes it a different job, unless the old name
    /// is listed in `previousNames`.
    #[schemars(regex(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"), length(max = 63))]
    pub name: Located<String>,

    /// The job's jar: a path relative to this spec file, or an `https://` URL.
    pub jar: Located<String>,

    /// The `FlinkCluster` document (by its `name`) this job runs on. May be left out when the spec
    /// directory has at most one cluster document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Located<String>>,

    /// Expected SHA-256 of the jar (64 hex digits). Optional for a local jar (it is hashed);
    /// recommended for a URL, whose content is otherwise identified by the URL alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = "^[0-9a-f]{64}$"))]
    pub jar_sha256: Option<Located<String>>,

    /// The class with the job's `main` method. Default: the jar manifest's `Main-Class`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_class: Option<Located<String>>,

    /// Program arguments, one list item per argument. `${VAR}` takes the value of an environment
    /// variable and marks the argument sensitive (never printed or stored); `$${` is a literal `${`.
    /// Default: none.
    #[serde(default)]
    pub args: Vec<Located<String>>,

    /// Parallelism of the job. Default: 1.
    #[serde(default = "default_parallelism")]
    #[schemars(range(min = 1, max = 32768))]
    pub parallelism: Located<u32>,

    /// Flink configuration for this job (flat dotted keys, e.g. `execution.checkpointing.interval`).
    /// Values may be strings, numbers or booleans; they are passed to Flink as strings. `${VAR}`
    /// works as in `args`. Default: none.
    #[serde(default)]
    pub flink_configuration: BTreeMap<String, Located<ConfigValue>>,

    /// Whether the job should run. `suspended` stops it with a savepoint and keeps it stopped.
    /// Default: `running`.
    #[serde(default)]
    pub state: Located<JobState>,

    /// How state is carried across an upgrade. Default: `savepoint`.
    #[serde(default)]
    pub upgrade_mode: Located<UpgradeMode>,

    /// Limits on how an upgrade carries state (see `upgrade.maxCheckpointAge`).
    #[serde(default)]
    pub upgrade: UpgradeSpec,

    /// Savepoints taken before an upgrade or suspension.
    #[serde(default)]
    pub savepoint: SavepointSpec,

    /// Where a job that is not running starts from.
    #[serde(default)]
    pub restore: RestoreSpec,

    /// Names of jobs that must be running and healthy before this one is deployed or upgraded.
    /// Default: none.
    #[serde(default)]
    pub depends_on: Vec<Located<String>>,

    /// When a freshly started job counts as healthy, and what happens when it does not become so.
    #[serde(default)]
    pub health: HealthSpec,

    /// Change (for example increment) to force a redeploy from a fresh savepoint without any other
    /// change. Default: 0.
    #[serde(default)]
    pub restart_nonce: Located<u64>,

    /// Protect the job's state: flinkops never stops it without a savepoint, never prunes it,
    /// never starts it empty or from anything but its newest snapshot (`upgradeMode: stateless`,
    /// `restore.from: none` or a path), unless the run passes `--allow-destroy NAME`. A
    /// settings-only field: changing it does not redeploy. Default: false.
    #[serde(default)]
    pub protect: Located<bool>,
    /// Names this job had before (newest last): the job was renamed and keeps its state. flinkops
    /// stops a live job of an old name with a savepoint and starts this name from it (or, when the
    /// old job is not running, from the old name's newest snapshot); its ledger history follows.
    /// Not the job's own name, nor another spec's. Keep an old name listed until every cluster
    /// has been applied once; removing it later is harmless. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("items" = { "type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", "maxLength": 63 }))]
    pub previous_names: Vec<Located<String>>,
}

/// The `apiVersion` of every flinkops document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub enum ApiVersion {
    #[default]
    #[serde(rename = "flinkops.dev/v1")]
    V1,
}

/// The `kind` of a job document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub enum JobKind {
    #[default]
    FlinkJob,
}

/// The `kind` of a cluster document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub enum ClusterKind {
    #[default]
    FlinkCluster,
}

/// A Flink session cluster that jobs run on: where its REST API is and how to reach it. Secrets
/// are given only by reference (a file or an environment variable), never in the document.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "FlinkCluster")]
pub struct ClusterSpec {
    /// The document format: always `flinkops.dev/v1`.
    pub api_version: ApiVersion,

    /// What this document describes: `FlinkCluster`.
    pub kind: ClusterKind,

    /// Unique name across the spec directory; jobs name it in `cluster:`. Lowercase letters,
    /// digits and `-`, at most 63 characters.
    #[schemars(regex(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"), length(max = 63))]
    pub name: Located<String>,

    /// Base URL of the Flink REST API, with an optional path prefix, e.g. `http://127.0.0.1:8081`
    /// or `https://gateway.example.com/flink/`.
    pub url: Located<String>,

    /// File with a bearer token for a proxy in front of Flink (relative to this file, or absolute).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<Located<String>>,

    /// Environment variable holding a bearer token for a proxy in front of Flink.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_env: Option<Located<String>>,

    /// PEM file with the CA certificate(s) that signed Flink's (or the proxy's) certificate,
    /// trusted in addition to the system's (relative to this file, or absolute).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<Located<String>>,

    /// PEM client certificate (chain, leaf first) for mutual TLS; needs `clientKeyFile`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert_file: Option<Located<String>>,

    /// PEM private key of `clientCertFile` (PKCS#8, PKCS#1 or SEC1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_key_file: Option<Located<String>>,

    /// Extra headers for every request: header name → the environment variable holding its value.
    /// Default: none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers_from_env: BTreeMap<String, Located<String>>,

    /// Basic auth for a proxy in front of Flink: a user name (written, or from a variable) and a
    /// password by reference only (a file or a variable). Not together with a token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuthSpec>,

    /// Accept any TLS certificate from this cluster (like `--insecure-skip-tls-verify`).
    /// Dangerous: anyone on the network path can read and change the traffic, credentials
    /// included; every run that uses it warns. Only for throw-away test clusters. Default: false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insecure_skip_tls_verify: Option<Located<bool>>,

    /// Defaults for the jobs on this cluster that do not set their own.
    #[serde(default)]
    pub defaults: ClusterDefaults,
}

/// Basic-auth credentials of a cluster, by reference: the password never sits in the document.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BasicAuthSpec {
    /// The user name, written out (a user name is not a secret). Or `usernameEnv`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<Located<String>>,

    /// Environment variable holding the user name. Or `username`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username_env: Option<Located<String>>,

    /// File with the password (relative to this file, or absolute; trimmed). Or `passwordEnv`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<Located<String>>,

    /// Environment variable holding the password. Or `passwordFile`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_env: Option<Located<String>>,
}

/// Per-cluster defaults for the jobs on a cluster.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ClusterDefaults {
    /// Savepoint directory of jobs that set no `savepoint.directory`, e.g.
    /// `s3://bucket/savepoints`. Default: the cluster's `execution.checkpointing.savepoint-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub savepoint_directory: Option<Located<String>>,

    /// Health settings of jobs that do not set them (each field on its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthSpec>,
}

fn default_parallelism() -> Located<u32> {
    Located::new(1, Pos::default())
}

/// A Flink configuration value as written.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ConfigValue {
    String(String),
    Integer(i64),
    Number(f64),
    Boolean(bool),
}

impl ConfigValue {
    /// The string Flink receives.
    pub fn to_flink_string(&self) -> String {
        match self {
            ConfigValue::String(s) => s.clone(),
            ConfigValue::Integer(i) => i.to_string(),
            ConfigValue::Number(n) => n.to_string(),
            ConfigValue::Boolean(b) => b.to_string(),
        }
    }
}

/// The desired run state of a job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Deployed and running.
    #[default]
    Running,
    /// Stopped with a savepoint, to be resumed from it later.
    Suspended,
}

/// How state is carried across an upgrade.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UpgradeMode {
    /// Stop with a savepoint, start the new version from it.
    #[default]
    Savepoint,
    /// Start the new version from the latest retained checkpoint (faster for large state).
    LastState,
    /// Cancel and start empty: for jobs without state worth keeping.
    Stateless,
}

/// Upgrade settings (`upgradeMode` stays a top-level field).
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct UpgradeSpec {
    /// For `upgradeMode: last-state`: when the running job's newest completed checkpoint is older
    /// than this (e.g. `15m`; at most 366 days), the upgrade takes a savepoint instead of starting
    /// from that checkpoint, so a job whose checkpoints stopped completing does not go back to
    /// old state. Default: no limit (a fitting age depends on the checkpoint interval).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub max_checkpoint_age: Option<Located<Duration>>,
}

/// Savepoint settings.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SavepointSpec {
    /// Target directory URI, e.g. `file:///flink/savepoints/orders` or `s3://bucket/savepoints`.
    /// Default: the cluster's `execution.checkpointing.savepoint-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory: Option<Located<String>>,

    /// How long a savepoint may take before it counts as failed (the job keeps running).
    /// Default: `10m`; at most 366 days, like every duration.
    #[schemars(with = "String")]
    pub timeout: Located<Duration>,

    /// `canonical` (portable across state backends) or `native` (faster). Default: `canonical`.
    pub format_type: Located<FormatType>,

    /// Emit MAX_WATERMARK before stopping (ends event-time windows). Default: false.
    pub drain: Located<bool>,

    /// Which of this job's savepoints `flinkops gc` keeps: at most `count` of them and none older
    /// than `maxAge` (either or both). Whatever it says, gc never disposes the newest snapshot,
    /// the one the running version started from, or one a pending step or a kept plan names.
    /// Default: the 5 newest, of any age.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain: Option<RetainSpec>,

    /// Take a savepoint of the running job this often while `flinkops watch` runs (e.g. `6h`,
    /// `1d`): when its newest recorded savepoint (of any reason: an upgrade's resets the clock)
    /// is older than this, less a fixed per-job offset of up to 10% so jobs with the same interval
    /// do not all fire together. At least 1s; under 1m is accepted with a warning (each savepoint
    /// writes the whole state). Default: none (savepoints only when flinkops stops the job or is
    /// asked to).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub every: Option<Located<Duration>>,
}

/// Savepoint retention (see `savepoint.retain`).
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetainSpec {
    /// Keep at most this many savepoints (1 to 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub count: Option<Located<u32>>,

    /// Dispose of savepoints older than this (e.g. `30d`, `12h`; at most 366 days).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub max_age: Option<Located<Duration>>,
}

impl RetainSpec {
    /// What is kept when a spec says nothing.
    pub const DEFAULT_COUNT: u32 = 5;

    /// The count in effect (the default when neither limit is set).
    pub fn count(retain: Option<&Self>) -> Option<u32> {
        match retain {
            None => Some(Self::DEFAULT_COUNT),
            Some(r) => r.count.as_ref().map(|c| c.value),
        }
    }
}

impl Default for SavepointSpec {
    fn default() -> Self {
        Self {
            directory: None,
            timeout: Located::new(Duration::minutes(10), Pos::default()),
            format_type: Located::default(),
            drain: Located::default(),
            retain: None,
            every: None,
        }
    }
}

impl<T: Default> Default for Located<T> {
    fn default() -> Self {
        Located::new(T::default(), Pos::default())
    }
}

/// Savepoint format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FormatType {
    #[default]
    Canonical,
    Native,
}

/// Where a job that is not running starts from.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct RestoreSpec {
    /// `latest`: the latest savepoint or retained checkpoint flinkops can find (and refuse to start
    /// empty when there is none that it expects); `none`: start empty; or a savepoint/checkpoint
    /// path such as `file:///flink/savepoints/savepoint-1a2b3c-0123456789ab`. Default: `latest`.
    #[schemars(with = "String")]
    pub from: Located<RestoreFrom>,

    /// Start even if some state in the savepoint belongs to no operator of the new program (that
    /// state is dropped). Default: false.
    pub allow_non_restored_state: Located<bool>,

    /// Start from the newest snapshot even when another Flink major version wrote it (1.x and
    /// 2.x), or a newer Flink than the cluster runs now: Flink does not promise that such state
    /// can be read. Without it flinkops refuses that start and says so. Default: false.
    pub allow_flink_version_change: Located<bool>,
}

/// `restore.from`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RestoreFrom {
    #[default]
    Latest,
    None,
    Path(String),
}

impl Serialize for RestoreFrom {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RestoreFrom::Latest => s.serialize_str("latest"),
            RestoreFrom::None => s.serialize_str("none"),
            RestoreFrom::Path(p) => s.serialize_str(p),
        }
    }
}

/// The health gate after every start.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct HealthSpec {
    /// All tasks must run without a restart for this long. Default: `30s`; at most 366 days.
    #[schemars(with = "String")]
    pub stable_for: Located<Duration>,

    /// Give up waiting for health after this long. Default: `5m`; at most 366 days.
    #[schemars(with = "String")]
    pub timeout: Located<Duration>,

    /// When the new version does not become healthy, run the previous version again from the same
    /// savepoint. Default: true.
    pub rollback: Located<bool>,
}

impl Default for HealthSpec {
    fn default() -> Self {
        Self {
            stable_for: Located::new(Duration::seconds(30), Pos::default()),
            timeout: Located::new(Duration::minutes(5), Pos::default()),
            rollback: Located::new(true, Pos::default()),
        }
    }
}

/// A non-negative duration written like `30s`, `5m`, `1h 30m` or `PT90S`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub jiff::SignedDuration);

impl Duration {
    pub fn seconds(s: i64) -> Self {
        Self(jiff::SignedDuration::from_secs(s))
    }
    pub fn minutes(m: i64) -> Self {
        Self(jiff::SignedDuration::from_mins(m))
    }
    pub fn as_std(&self) -> std::time::Duration {
        self.0.unsigned_abs()
    }
}

impl std::fmt::Display for Duration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Every field name a job spec accepts, per section; the reader and the schema test use them.
pub const JOB_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "name",
    "jar",
    "cluster",
    "jarSha256",
    "entryClass",
    "args",
    "parallelism",
    "flinkConfiguration",
    "state",
    "upgradeMode",
    "upgrade",
    "savepoint",
    "restore",
    "dependsOn",
    "health",
    "restartNonce",
    "protect",
    "previousNames",
];
pub const UPGRADE_FIELDS: &[&str] = &["maxCheckpointAge"];
pub const SAVEPOINT_FIELDS: &[&str] = &["directory", "timeout", "formatType", "drain", "retain", "every"];
pub const RETAIN_FIELDS: &[&str] = &["count", "maxAge"];
pub const RESTORE_FIELDS: &[&str] = &["from", "allowNonRestoredState", "allowFlinkVersionChange"];
pub const CLUSTER_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "name",
    "url",
    "tokenFile",
    "tokenEnv",
    "caFile",
    "clientCertFile",
    "clientKeyFile",
    "headersFromEnv",
    "basicAuth",
    "insecureSkipTlsVerify",
    "defaults",
];
pub const BASIC_AUTH_FIELDS: &[&str] = &["username", "usernameEnv", "passwordFile", "passwordEnv"];
pub const CLUSTER_DEFAULTS_FIELDS: &[&str] = &["savepointDirectory", "health"];
pub const HEALTH_FIELDS: &[&str] = &["stableFor", "timeout", "rollback"];
