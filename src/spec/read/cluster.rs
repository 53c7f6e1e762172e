//! The raw layer of a `kind: FlinkCluster` document: where the REST API is, how to authenticate
//! (by reference only), and the defaults of its jobs.
//!
//! A secret written into the document (`token: …`) is an error: spec directories live in git.

use super::{Fields, Reader};
use crate::spec::diag::{Diagnostic, SourceFile};
use crate::spec::model::*;
use crate::spec::yaml::{Node, Pos, Value};

/// Fields that would hold a secret's value, and what to write instead.
const LITERAL_SECRETS: &[(&str, &str)] = &[
    ("token", "`tokenFile: <file with the token>` or `tokenEnv: <VARIABLE>`"),
    ("password", "`basicAuth: {username: <user>, passwordFile: <file>}` (or `passwordEnv: <VARIABLE>`)"),
    ("headers", "`headersFromEnv: {Header-Name: VARIABLE}`"),
    ("clientKey", "`clientKeyFile: <file with the PEM key>`"),
];

impl Reader<'_> {
    /// Read one `kind: FlinkCluster` document. `None` when a required part is unusable.
    pub fn cluster(&mut self, doc: &Node) -> Option<ClusterSpec> {
        let mut known: Vec<&str> = CLUSTER_FIELDS.to_vec();
        known.extend(LITERAL_SECRETS.iter().map(|(k, _)| *k));
        let fields = self.fields(doc, "", "a cluster document", &known)?;
        self.refuse_literal_secrets(&fields);
        let name = self.cluster_required(&fields, doc, "name").and_then(|n| self.name(n));
        let url = self.cluster_required(&fields, doc, "url").and_then(|n| self.url(n));
        let path = |r: &mut Self, key: &str| fields.get(key).and_then(|n| r.string(n, key));
        let token_file = path(self, "tokenFile");
        let token_env = fields.get("tokenEnv").and_then(|n| self.env_name(n, "tokenEnv"));
        let ca_file = path(self, "caFile");
        let client_cert_file = path(self, "clientCertFile");
        let client_key_file = path(self, "clientKeyFile");
        let headers_from_env = fields.get("headersFromEnv").map(|n| self.headers(n)).unwrap_or_default();
        let defaults = fields.get("defaults").map(|n| self.cluster_defaults(n)).unwrap_or_default();
        let basic_auth = fields.get("basicAuth").and_then(|n| self.basic_auth(n));
        let insecure_skip_tls_verify =
            fields.get("insecureSkipTlsVerify").and_then(|n| self.insecure_skip_tls_verify(n));
        if let (Some(_), Some(env)) = (&token_file, &token_env) {
            let d =
                self.error(env.pos, "conflicting-fields", "both `tokenFile` and `tokenEnv` are set".into());
            d.help = Some("a cluster takes one token: remove one of them".into());
        }
        if let (Some(node), Some(_)) = (fields.get("basicAuth"), token_file.as_ref().or(token_env.as_ref())) {
            let d = self.error(node.pos, "conflicting-fields", "both a token and `basicAuth` are set".into());
            d.help = Some("a proxy takes one kind of credentials: remove one of them".into());
        }
        match (&client_cert_file, &client_key_file) {
            (Some(f), None) | (None, Some(f)) => {
                let d = self.error(
                    f.pos,
                    "incomplete-client-certificate",
                    "mutual TLS needs both `clientCertFile` and `clientKeyFile`".into(),
                );
                d.help = Some("give both, or neither".into());
            }
            _ => {}
        }
        Some(ClusterSpec {
            api_version: ApiVersion::V1,
            kind: ClusterKind::FlinkCluster,
            name: name?,
            url: url?,
            token_file,
            token_env,
            ca_file,
            client_cert_file,
            client_key_file,
            headers_from_env,
            basic_auth,
            insecure_skip_tls_verify,
            defaults,
        })
    }

    /// `basicAuth`: a user name (written or from a variable) and a password by reference. A
    /// written `password` is refused with its value masked.
    fn basic_auth(&mut self, node: &Node) -> Option<BasicAuthSpec> {
        let mut known = BASIC_AUTH_FIELDS.to_vec();
        known.push("password");
        let f = self.fields(node, "basicAuth.", "the basic-auth settings", &known)?;
        if let Some(value) = f.get("password") {
            let d = self.masked_error(
                value.pos,
                "secret-in-document",
                "`basicAuth.password` would put a secret into the spec directory (value not shown)".into(),
            );
            d.label = Some("spec directories live in git: secrets are given by reference".into());
            d.help = Some(
                "write `passwordFile: <file with the password>` or `passwordEnv: <VARIABLE>` instead".into(),
            );
        }
        let out = BasicAuthSpec {
            username: f.get("username").and_then(|n| self.string(n, "basicAuth.username")),
            username_env: f.get("usernameEnv").and_then(|n| self.env_name(n, "basicAuth.usernameEnv")),
            password_file: f.get("passwordFile").and_then(|n| self.string(n, "basicAuth.passwordFile")),
            password_env: f.get("passwordEnv").and_then(|n| self.env_name(n, "basicAuth.passwordEnv")),
        };
        let user = self.one_of(node, (&out.username, "username"), (&out.username_env, "usernameEnv"));
        let password = f.get("password").is_some()
            || self.one_of(node, (&out.password_file, "passwordFile"), (&out.password_env, "passwordEnv"));
        (user && password).then_some(out)
    }

    /// Exactly one of two `basicAuth` fields: an error (and `false`) for none or both.
    fn one_of(
        &mut self,
        node: &Node,
        a: (&Option<Located<String>>, &str),
        b: (&Option<Located<String>>, &str),
    ) -> bool {
        match (a.0, b.0) {
            (Some(_), None) | (None, Some(_)) => true,
            (Some(_), Some(second)) => {
                let d = self.error(
                    second.pos,
                    "conflicting-fields",
                    format!("both `basicAuth.{}` and `basicAuth.{}` are set", a.1, b.1),
                );
                d.help = Some("remove one of them".into());
                false
            }
            (None, None) => {
                let d = self.error(
                    node.pos,
                    "missing-field",
                    format!("`basicAuth` needs `{}` or `{}`", a.1, b.1),
                );
                d.help = Some(format!("add `{}:` (or `{}:`)", a.1, b.1));
                false
            }
        }
    }

    /// `insecureSkipTlsVerify`: valid, and a warning when `true` (every run warns again).
    fn insecure_skip_tls_verify(&mut self, node: &Node) -> Option<Located<bool>> {
        let value = self.boolean(node, "insecureSkipTlsVerify")?;
        if value.value {
            let d = self.error(
                node.pos,
                "insecure-tls",
                "`insecureSkipTlsVerify: true` accepts any certificate from this cluster".into(),
            );
            d.severity = crate::spec::diag::Severity::Warning;
            d.label = Some(
                "anyone on the network path can read and change the traffic, credentials included".into(),
            );
            d.help = Some(
                "only for throw-away test clusters: trust the cluster's CA with `caFile:` instead".into(),
            );
        }
        Some(value)
    }

    fn refuse_literal_secrets(&mut self, fields: &Fields) {
        for (key, instead) in LITERAL_SECRETS {
            if let Some(node) = fields.get(key) {
                let d = self.masked_error(
                    node.pos,
                    "secret-in-document",
                    format!("`{key}` would put a secret into the spec directory (value not shown)"),
                );
                d.label = Some("spec directories live in git: secrets are given by reference".into());
                d.help = Some(format!("write {instead} instead"));
            }
        }
    }

    /// An error whose snippet shows `pos` (a secret's value, or what may be one) as `*`: the
    /// report may go to a CI log that more people read than the repository.
    fn masked_error(&mut self, pos: Pos, code: &'static str, message: String) -> &mut Diagnostic {
        let text = &self.file.text;
        let end = (pos.offset + pos.len).min(text.len());
        let masked: String = text
            .char_indices()
            .map(
                |(i, c)| {
                    if (pos.offset..end).contains(&i) { "*".repeat(c.len_utf8()) } else { c.to_string() }
                },
            )
            .collect();
        let file = SourceFile::new(&self.file.path, &masked);
        self.diags.push(Diagnostic::at(&file, pos, code, message));
        self.diags.last_mut().expect("just pushed")
    }

    fn cluster_required<'n>(&mut self, f: &Fields<'n>, doc: &Node, key: &str) -> Option<&'n Node> {
        match f.get(key) {
            Some(node) if node.value != Value::Null => Some(node),
            found => {
                let pos = found.map_or(doc.pos, |n| n.pos);
                let d = self.error(pos, "missing-field", format!("missing required field `{key}`"));
                d.label = Some("in this cluster document".into());
                d.help = Some(match key {
                    "name" => "add `name: <cluster-name>` (lowercase letters, digits and `-`)".into(),
                    _ => "add `url: <Flink REST URL>`, e.g. `url: http://127.0.0.1:8081`".into(),
                });
                None
            }
        }
    }

    fn url(&mut self, node: &Node) -> Option<Located<String>> {
        let s = self.string(node, "url")?;
        if !(s.value.starts_with("http://") || s.value.starts_with("https://")) {
            let d = self.error(
                node.pos,
                "invalid-value",
                format!("`url` must be an http(s) URL, found `{}`", s.value),
            );
            d.help = Some("the JobManager's REST address, e.g. `http://127.0.0.1:8081`".into());
            return None;
        }
        let authority = s.value.split("://").nth(1).unwrap_or_default().split(['/', '?', '#']).next();
        if authority.is_some_and(|a| a.contains('@')) {
            let d = self.masked_error(
                node.pos,
                "secret-in-document",
                "`url` holds credentials (`user:password@`), which would put a secret into the spec directory (value not shown)".into(),
            );
            d.help = Some(
                "remove them from the URL and give a token by reference: `tokenFile:` or `tokenEnv:`".into(),
            );
            return None;
        }
        Some(s)
    }

    fn env_name(&mut self, node: &Node, field: &str) -> Option<Located<String>> {
        let s = self.string(node, field)?;
        if !crate::spec::resolve::valid_var(&s.value) {
            let d = self.masked_error(
                node.pos,
                "invalid-value",
                format!("`{field}` must name an environment variable (value not shown)"),
            );
            d.help = Some("write the name of the environment variable that holds the value (letters, digits and `_`, e.g. `FLINK_TOKEN`), not the value".into());
            return None;
        }
        Some(s)
    }

    fn headers(&mut self, node: &Node) -> std::collections::BTreeMap<String, Located<String>> {
        let mut out = std::collections::BTreeMap::new();
        let Value::Map(entries) = &node.value else {
            if node.value != Value::Null {
                let help = Some("e.g. `headersFromEnv: {X-Tenant: TENANT_KEY}`".into());
                self.type_error(node, "headersFromEnv", "a mapping of header names to variables", help);
            }
            return out;
        };
        for (key, value) in entries {
            let Value::Str(name) = &key.value else {
                self.type_error(key, "headersFromEnv key", "a header name", None);
                continue;
            };
            if let Some(var) = self.env_name(value, &format!("headersFromEnv.{name}")) {
                out.insert(name.clone(), var);
            }
        }
        out
    }

    fn cluster_defaults(&mut self, node: &Node) -> ClusterDefaults {
        let mut out = ClusterDefaults::default();
        let Some(f) = self.fields(node, "defaults.", "the job defaults", CLUSTER_DEFAULTS_FIELDS) else {
            return out;
        };
        out.savepoint_directory =
            f.get("savepointDirectory").and_then(|n| self.uri(n, "defaults.savepointDirectory"));
        out.health = f.get("health").map(|n| self.health(n));
        out
    }
}
